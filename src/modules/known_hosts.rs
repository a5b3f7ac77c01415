//! `known_hosts`: one host's key in an SSH known_hosts file, as Ansible's
//! module does it: `ssh-keygen -F` on the host finds the host's entries
//! (hashed ones too), the file is rewritten without the replaced line and
//! with the new key at the end; `state: absent` without a key is
//! `ssh-keygen -R`.

use super::accounts::run_tool;
use super::registry::Module;
use super::remote_file::{Upload, add_path_info, exec, probe_whole_file, upload};
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::{Value as Json, json};

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "known_hosts",
        &[
            aliases(required(p("name", Kind::Str)), &["host"]),
            p("key", Kind::Str),
            p("path", Kind::Str),
            p("hash_host", Kind::Bool),
            choices(p("state", Kind::Str), &["absent", "present"]),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const DEFAULT_PATH: &str = "~/.ssh/known_hosts";

/// A known_hosts line in Ansible's normalised form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    pub marker: Option<String>,
    pub host: String,
    pub kind: String,
    pub blob: String,
}

/// Ansible's `normalize_known_hosts_key` (trailing comments dropped).
pub fn normalize(line: &str) -> Option<HostKey> {
    let k: Vec<&str> = line.split_whitespace().collect();
    let marked = k.first()?.starts_with('@');
    let at = usize::from(marked);
    Some(HostKey {
        marker: marked.then(|| k[0].to_string()),
        host: k.get(at)?.to_string(),
        kind: k.get(at + 1)?.to_string(),
        blob: k.get(at + 2)?.to_string(),
    })
}

/// What `ssh-keygen -F` found: (found, replace_or_add, found_line).
pub fn search(stdout: &str, key: Option<&str>) -> Result<(bool, bool, Option<usize>), String> {
    let Some(key) = key else {
        return Ok((true, false, None));
    };
    let mut new = normalize(key).ok_or_else(|| format!("invalid key: {key}"))?;
    let mut found_line = None;
    for l in stdout.split('\n') {
        if l.is_empty() {
            continue;
        }
        if l.starts_with('#') {
            let line = l
                .split("found: line ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| {
                    format!("failed to parse output of ssh-keygen for line number: '{l}'")
                })?;
            found_line = Some(line);
            continue;
        }
        let Some(found) = normalize(l) else { continue };
        let marked = found
            .marker
            .as_deref()
            .is_some_and(|m| m.starts_with("@cert-authority") || m.starts_with("@revoke"));
        if !marked && new.host.starts_with("|1|") && found.host.starts_with("|1|") {
            // An already hashed host keeps its hash.
            new.host = found.host.clone();
        }
        if new == found {
            return Ok((true, false, found_line));
        }
        if !marked && new.kind == found.kind {
            return Ok((true, true, found_line));
        }
    }
    Ok((true, true, None))
}

/// The file after the change (Ansible's `compute_diff`'s `after`, which is
/// also what the module writes).
pub fn rewrite(
    before: &str,
    found_line: Option<usize>,
    replace: bool,
    present: bool,
    key: &str,
) -> String {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    if let Some(n) = found_line
        && (replace || !present)
        && (1..=lines.len()).contains(&n)
    {
        lines.remove(n - 1);
    }
    let mut after = lines.concat();
    if present && (replace || found_line.is_none()) {
        after.push_str(key);
    }
    after
}

/// Ansible's `hash_host_key`: the host field replaced by `|1|salt|hash`.
fn hash_host_key(host: &str, key: &str) -> Result<String, String> {
    let mut salt = [0u8; 20];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for the hash: {e}"))?;
    let mut parts: Vec<String> = key.split_whitespace().map(str::to_string).collect();
    let i = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    let field = parts
        .get_mut(i)
        .ok_or_else(|| format!("invalid key: {key}"))?;
    *field = crate::ssh::known_hosts::hash_host_name(host, &salt);
    Ok(parts.join(" "))
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

/// `~` and `~/...` as the login user's home, as Ansible's `path` type does.
async fn expand_home(ctx: &ModuleContext<'_>, path: &str) -> Result<String, TaskResult> {
    let Some(rest) = path
        .strip_prefix('~')
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return Ok(path.to_string());
    };
    let (home, _) = run_tool(ctx, "printf '%s' \"$HOME\"", None).await?;
    Ok(format!("{home}{rest}"))
}

/// Whether ssh-keygen finds `host` in the supplied key (a hashed host
/// field must be the host's hash).
async fn key_matches_host(
    ctx: &ModuleContext<'_>,
    host: &str,
    key: &str,
) -> Result<bool, TaskResult> {
    let line = format!(
        "t=$(mktemp) || exit 1\nprintf '%s' {k} > \"$t\"\nssh-keygen -F {h} -f \"$t\"\nrm -f \"$t\"\n",
        k = shell_quote(key),
        h = shell_quote(host)
    );
    let out = exec(ctx, &line, None).await?;
    Ok(!out.stdout.is_empty())
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or_default();
    let host = name.to_lowercase();
    let state = arg_str(args, "state").unwrap_or("present");
    let present = state == "present";
    let hash = arg_bool(args, "hash_host", false);
    let path = expand_home(ctx, arg_str(args, "path").unwrap_or(DEFAULT_PATH)).await?;
    let mut result = TaskResult::ok()
        .with("name", name)
        .with("key", args.get("key").cloned().unwrap_or(Json::Null))
        .with("path", path.clone())
        .with("hash_host", hash)
        .with("state", state);
    let key = arg_str(args, "key").filter(|k| !k.is_empty());
    if key.is_none() && present {
        return Err(TaskResult::failed("No key specified when adding a host"));
    }
    let key = match key {
        Some(k) if hash => Some(hash_host_key(&host, k).map_err(TaskResult::failed)?),
        Some(k) => Some(k.to_string()),
        None => None,
    }
    .map(|k| {
        if k.ends_with('\n') {
            k
        } else {
            format!("{k}\n")
        }
    });
    if let Some(key) = &key {
        let comma = regex::Regex::new(r"\S+(\s+)?,(\s+)?").expect("a valid regex");
        if comma.is_match(&host) {
            return Err(TaskResult::failed(
                "Comma separated list of names is not supported. Please pass a single name to \
                 lookup in the known_hosts file.",
            ));
        }
        if !key_matches_host(ctx, &host, key).await? {
            return Err(TaskResult::failed(
                "Host parameter does not match hashed host field in supplied key",
            ));
        }
    }
    let file = probe_whole_file(ctx, &path).await?;
    let (found, replace, found_line) = if file.exists() {
        let line = format!(
            "ssh-keygen -F {} -f {}",
            shell_quote(&host),
            shell_quote(&path)
        );
        let out = exec(ctx, &line, None).await?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        if stdout.is_empty() && stderr.is_empty() && (out.rc == 0 || out.rc == 1) {
            (false, false, None)
        } else if out.rc != 0 {
            return Err(TaskResult::failed(format!(
                "ssh-keygen failed (rc={}, stdout='{stdout}',stderr='{stderr}')",
                out.rc
            )));
        } else {
            search(&stdout, key.as_deref()).map_err(TaskResult::failed)?
        }
    } else {
        (false, false, None)
    };
    let before = String::from_utf8_lossy(file.content.as_deref().unwrap_or_default()).into_owned();
    let key_text = key.clone().unwrap_or_default();
    let after = rewrite(&before, found_line, replace, present, &key_text);
    let before_header = if file.exists() {
        path.as_str()
    } else {
        "/dev/null"
    };
    result = result.with(
        "diff",
        json!({"before_header": before_header, "after_header": path,
               "before": before, "after": after}),
    );
    if !present && found_line.is_none() && key.is_some() {
        return add_path_info(ctx, result, &path).await;
    }
    if ctx.check_mode {
        result.changed = replace || present != found;
        return add_path_info(ctx, result, &path).await;
    }
    if found && key.is_none() && !present {
        let line = format!(
            "ssh-keygen -R {} -f {}",
            shell_quote(&host),
            shell_quote(&path)
        );
        run_tool(ctx, &line, None).await?;
        result.changed = true;
    } else if replace || found != present {
        // (After `ssh-keygen -R`, Ansible's rewrite copies the file as it is.)
        upload(
            ctx,
            &Upload {
                dest: &path,
                content: after.as_bytes(),
                mode: file.exists().then_some(file.mode),
                keep_ids: file.exists().then_some((file.uid, file.gid)),
                follow: true,
                ..Default::default()
            },
        )
        .await
        .map_err(|r| {
            let why = r.msg.clone().unwrap_or_default();
            TaskResult::failed(format!("Failed to write to file {path}: {why}"))
        })?;
        result.changed = true;
    }
    add_path_info(ctx, result, &path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui";

    #[test]
    fn ssh_keygen_output_says_found_replace_and_line() {
        let out = format!("# Host example.com found: line 2 \n{KEY}\n");
        assert_eq!(search(&out, Some(KEY)).unwrap(), (true, false, Some(2)));
        let other = KEY.replace("IEj/", "IXX/");
        assert_eq!(search(&out, Some(&other)).unwrap(), (true, true, Some(2)));
        let rsa = "example.com ssh-rsa AAAAB3";
        assert_eq!(search(&out, Some(rsa)).unwrap(), (true, true, None));
        assert_eq!(search(&out, None).unwrap(), (true, false, None));
    }

    #[test]
    fn the_old_line_goes_and_the_key_is_appended() {
        let before = "a ssh-rsa X\nexample.com ssh-ed25519 OLD\nb ssh-rsa Y\n";
        let key = "example.com ssh-ed25519 NEW\n";
        assert_eq!(
            rewrite(before, Some(2), true, true, key),
            "a ssh-rsa X\nb ssh-rsa Y\nexample.com ssh-ed25519 NEW\n"
        );
        assert_eq!(
            rewrite(before, Some(2), false, false, ""),
            "a ssh-rsa X\nb ssh-rsa Y\n"
        );
        assert_eq!(rewrite("", None, false, true, key), key);
    }

    #[test]
    fn hashed_hosts_match_what_ssh_keygen_would_look_up() {
        let hashed = hash_host_key("example.com", KEY).unwrap();
        let host = hashed.split_whitespace().next().unwrap();
        assert!(host.starts_with("|1|"), "{hashed}");
        assert!(hashed.ends_with(KEY.split_once(' ').unwrap().1));
    }
}
