//! `user`'s `generate_ssh_key`: a key pair made with `ssh-keygen` on the
//! host, owned by the user, never overwritten without `force` (Ansible's
//! `ssh_key_gen`, `ssh_key_fingerprint` and `get_ssh_public_key`).

use super::accounts::{Passwd, command_line, run_tool, tag, tagged};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;

/// The private key's path: `ssh_key_file` (absolute, or under the home),
/// by default `~/.ssh/id_<type>`.
pub fn key_path(args: &Vars, home: &str) -> String {
    let key_type = arg_str(args, "ssh_key_type").unwrap_or("rsa");
    let file = arg_str(args, "ssh_key_file")
        .map(str::to_string)
        .unwrap_or_else(|| format!(".ssh/id_{key_type}"));
    if file.starts_with('/') {
        file
    } else {
        format!("{}/{file}", home.trim_end_matches('/'))
    }
}

/// The `ssh-keygen` line that makes the pair.
pub fn keygen_command(args: &Vars, path: &str, hostname: &str) -> Vec<String> {
    let mut cmd = vec![
        "ssh-keygen".to_string(),
        "-t".into(),
        arg_str(args, "ssh_key_type").unwrap_or("rsa").into(),
    ];
    if let Some(bits) = args.get("ssh_key_bits").and_then(Json::as_i64)
        && bits > 0
    {
        cmd.extend(["-b".into(), bits.to_string()]);
    }
    let comment = arg_str(args, "ssh_key_comment")
        .map(str::to_string)
        .unwrap_or_else(|| format!("ansible-generated on {hostname}"));
    cmd.extend(["-C".into(), comment, "-f".into(), path.into()]);
    cmd
}

pub async fn generate(
    ctx: &ModuleContext<'_>,
    args: &Vars,
    pw: &Passwd,
    hostname: &str,
    mut result: TaskResult,
) -> Result<TaskResult, TaskResult> {
    let path = key_path(args, &pw.home);
    let force = arg_bool(args, "force", false);
    let f = shell_quote(&path);
    let probe = format!(
        "f={f}; d=$(dirname \"$f\")\n[ -d \"$d\" ] && echo dir=1\n\
         [ -e \"$f\" ] && echo priv=1\n[ -e \"$f.pub\" ] && echo pub=1\n\
         [ -e {home} ] && echo home=1\ntrue\n",
        home = shell_quote(&pw.home)
    );
    let (stdout, _) = run_tool(ctx, &probe, None).await?;
    let found = tagged(stdout.as_bytes());
    let has = |t: &str| tag(&found, t).is_some();
    let fail = |msg: String| TaskResult::failed(msg).with("name", pw.name.clone());
    let mut warnings = Vec::new();
    if !path.starts_with('/') && !has("home") && !ctx.check_mode {
        return Err(fail(format!(
            "User {} home directory does not exist",
            pw.name
        )));
    }
    let generate = if !has("dir") && ctx.check_mode {
        true
    } else if has("priv") && !force {
        warnings.push(format!(
            "Found existing ssh key private file \"{path}\", no force, so skipping ssh-keygen generation"
        ));
        false
    } else if has("pub") && !force {
        warnings.push(format!(
            "Found existing ssh key public file \"{path}.pub\", no force, so skipping ssh-keygen generation"
        ));
        false
    } else {
        true
    };
    if generate {
        result.changed = true;
        if !ctx.check_mode {
            make_pair(ctx, args, &path, pw, hostname, has("priv")).await?;
        }
    }
    // As Ansible: a missing key file gives an empty fingerprint.
    let line = format!("[ -e {f} ] && ssh-keygen -l -f {f}");
    let fingerprint = super::remote_file::exec(ctx, &line, None).await?;
    let print = if fingerprint.rc == 0 {
        &fingerprint.stdout
    } else {
        &fingerprint.stderr
    };
    let print = String::from_utf8_lossy(print).trim().to_string();
    let public = super::remote_file::exec(ctx, &format!("cat {f}.pub 2>/dev/null"), None).await?;
    let public =
        (public.rc == 0).then(|| String::from_utf8_lossy(&public.stdout).trim().to_string());
    result = result
        .with("ssh_fingerprint", print)
        .with("ssh_key_file", path)
        .with("ssh_public_key", public.map_or(Json::Null, Json::String));
    if !warnings.is_empty() {
        result = result.with("warnings", Json::from(warnings));
    }
    Ok(result)
}

/// Makes the pair: the directory (0700, the user's), ssh-keygen with the
/// passphrase (on its command line: ssh-keygen reads it from nowhere else
/// without a terminal), then ownership.
async fn make_pair(
    ctx: &ModuleContext<'_>,
    args: &Vars,
    path: &str,
    pw: &Passwd,
    hostname: &str,
    overwrite: bool,
) -> Result<(), TaskResult> {
    let ids = shell_quote(&format!("{}:{}", pw.uid, pw.gid));
    let mut keygen = keygen_command(args, path, hostname);
    keygen.extend([
        "-N".into(),
        arg_str(args, "ssh_key_passphrase").unwrap_or("").into(),
    ]);
    let answer = if overwrite { "printf 'y\\n' | " } else { "" };
    let script = format!(
        "f={f}; d=$(dirname \"$f\")\n\
         if [ ! -d \"$d\" ]; then mkdir -m 700 \"$d\" && chown {ids} \"$d\" || exit 1; fi\n\
         rm -f \"$f.pub\"\n{answer}{keygen} >/dev/null || exit 1\n\
         chown {ids} \"$f\" \"$f.pub\"\n",
        f = shell_quote(path),
        keygen = command_line(&keygen),
    );
    run_tool(ctx, &script, None)
        .await
        .map(|_| ())
        .map_err(|r| r.with("name", pw.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_goes_under_the_home_unless_absolute() {
        let args: Vars = serde_json::from_value(json!({"ssh_key_type": "ed25519"})).unwrap();
        assert_eq!(key_path(&args, "/home/d/"), "/home/d/.ssh/id_ed25519");
        let abs: Vars = serde_json::from_value(json!({"ssh_key_file": "/k/id"})).unwrap();
        assert_eq!(key_path(&abs, "/home/d"), "/k/id");
        let bits: Vars = serde_json::from_value(json!({"ssh_key_bits": 4096})).unwrap();
        assert_eq!(
            keygen_command(&bits, "/k", "h1"),
            [
                "ssh-keygen",
                "-t",
                "rsa",
                "-b",
                "4096",
                "-C",
                "ansible-generated on h1",
                "-f",
                "/k"
            ]
        );
    }
}
