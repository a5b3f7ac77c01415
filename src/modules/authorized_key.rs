//! `authorized_key` (ansible.posix): SSH keys in a user's
//! `authorized_keys`, edited in Rust the way Ansible's module parses and
//! re-serialises the file (options, comments, `exclusive`), then written
//! atomically, 0600 and owned by the user, in a `.ssh` directory of 0700.

use super::accounts::{check_name, getent_line, parse_passwd, run_tool, tag, tagged};
use super::registry::Module;
use super::remote_file::{Upload, probe_whole_file, upload};
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use indexmap::IndexMap;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "authorized_key",
        &[
            required(p("user", Kind::Str)),
            required(p("key", Kind::Str)),
            p("path", Kind::Str),
            p("manage_dir", Kind::Bool),
            choices(p("state", Kind::Str), &["absent", "present"]),
            p("key_options", Kind::Str),
            p("exclusive", Kind::Bool),
            p("comment", Kind::Str),
            p("validate_certs", Kind::Bool),
            p("follow", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Key types Ansible recognises in a line.
const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
];

/// `key=value` or bare options, in order (duplicates kept).
pub type Options = Vec<(String, Option<String>)>;

/// One line of the file: a key (by its base64 blob) or a line kept as it
/// is (`kind: None`: a comment, a blank or unparsable line).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub kind: Option<String>,
    pub options: Options,
    pub comment: String,
    pub rank: usize,
}

impl Entry {
    /// Ansible compares keys as (blob, type, options as a dict, comment).
    fn same_as(&self, other: &Entry) -> bool {
        fn dict(o: &Options) -> BTreeMap<&str, Vec<Option<&str>>> {
            let mut m: BTreeMap<&str, Vec<Option<&str>>> = BTreeMap::new();
            for (k, v) in o {
                m.entry(k.as_str()).or_default().push(v.as_deref());
            }
            m
        }
        self.id == other.id
            && self.kind == other.kind
            && dict(&self.options) == dict(&other.options)
            && self.comment == other.comment
    }
}

/// Ansible's `parseoptions`: commas outside quotes separate options.
pub fn parse_options(text: &str) -> Options {
    let mut parts = Vec::new();
    let (mut current, mut quote) = (String::new(), None);
    for c in text.chars() {
        match (c, quote) {
            (',', None) => parts.push(std::mem::take(&mut current)),
            ('"' | '\'', None) => {
                quote = Some(c);
                current.push(c);
            }
            (c, Some(q)) if c == q => {
                quote = None;
                current.push(c);
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (p, None),
        })
        .collect()
}

/// Ansible's `parsekey`: None when no known key type is on the line.
pub fn parse_key(raw: &str, rank: usize) -> Option<Entry> {
    let raw = raw.replace(r"\#", "#");
    let parts: Vec<&str> = raw.split_whitespace().collect();
    if parts.first() == Some(&"#") {
        return Some(Entry {
            id: raw.clone(),
            kind: None,
            options: Vec::new(),
            comment: String::new(),
            rank,
        });
    }
    let at = parts.iter().position(|p| KEY_TYPES.contains(p))?;
    let blob = parts.get(at + 1)?;
    Some(Entry {
        id: blob.to_string(),
        kind: Some(parts[at].to_string()),
        options: parse_options(&parts[..at].join(" ")),
        comment: parts.get(at + 2..).unwrap_or_default().join(" "),
        rank,
    })
}

/// The file's entries by id, in file order (a repeated id keeps its first
/// place and its last line, as Ansible's dict does).
pub fn parse_file(content: &str) -> IndexMap<String, Entry> {
    let mut keys = IndexMap::new();
    for (rank, line) in content.split_inclusive('\n').enumerate() {
        let entry = parse_key(line, rank).unwrap_or_else(|| Entry {
            id: line.to_string(),
            kind: None,
            options: Vec::new(),
            comment: String::new(),
            rank,
        });
        keys.insert(entry.id.clone(), entry);
    }
    keys
}

/// Ansible's `serialize`: by rank; kept lines as they were, keys as
/// `[options ]type blob comment`.
pub fn serialize(keys: &IndexMap<String, Entry>) -> String {
    let mut entries: Vec<&Entry> = keys.values().collect();
    entries.sort_by_key(|e| e.rank);
    let mut out = String::new();
    for e in entries {
        match &e.kind {
            None => out.push_str(&e.id),
            Some(kind) => {
                if !e.options.is_empty() {
                    let opts: Vec<String> = e
                        .options
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => format!("{k}={v}"),
                            None => k.clone(),
                        })
                        .collect();
                    out.push_str(&opts.join(","));
                    out.push(' ');
                }
                out.push_str(&format!("{kind} {} {}\n", e.id, e.comment));
            }
        }
    }
    out
}

/// The file's new content, or None when it stays as it is.
pub fn edit(existing: &str, args: &Vars) -> Result<Option<String>, String> {
    let key = arg_str(args, "key").unwrap_or_default();
    let present = arg_str(args, "state").unwrap_or("present") == "present";
    let mut keys = parse_file(existing);
    let max_rank = keys.len();
    let mut to_exist = Vec::new();
    let mut write = false;
    let wanted = key.lines().filter(|l| !l.is_empty() && !l.starts_with('#'));
    for (rank, line) in wanted.enumerate() {
        let mut new = parse_key(line, rank)
            .filter(|e| e.kind.is_some())
            .ok_or_else(|| format!("invalid key specified: {line}"))?;
        if let Some(options) = arg_str(args, "key_options") {
            new.options = parse_options(options);
        }
        if let Some(comment) = arg_str(args, "comment") {
            new.comment = comment.to_string();
        }
        let matched = match keys.get(&new.id) {
            Some(old) if present && !old.same_as(&new) => {
                keys.shift_remove(&new.id);
                write = true;
                false
            }
            Some(_) => true,
            None => false,
        };
        if present {
            to_exist.push(new.id.clone());
            if !matched {
                new.rank += max_rank;
                keys.insert(new.id.clone(), new);
                write = true;
            }
        } else if matched {
            keys.shift_remove(&new.id);
            write = true;
        }
    }
    if present && arg_bool(args, "exclusive", false) {
        let before = keys.len();
        keys.retain(|id, _| to_exist.contains(id));
        write |= keys.len() != before;
    }
    Ok(write.then(|| serialize(&keys)))
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

/// The module's parameters, echoed as Ansible's result does.
fn echoed(args: &Vars) -> TaskResult {
    let mut r = TaskResult::ok();
    for (key, default) in [
        ("user", Json::Null),
        ("key", Json::Null),
        ("path", Json::Null),
        ("manage_dir", json!(true)),
        ("state", json!("present")),
        ("key_options", Json::Null),
        ("exclusive", json!(false)),
        ("comment", Json::Null),
        ("validate_certs", json!(true)),
        ("follow", json!(false)),
    ] {
        r = r.with(key, args.get(key).cloned().unwrap_or(default));
    }
    r
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let user = arg_str(args, "user").unwrap_or_default();
    let key = arg_str(args, "key").unwrap_or_default();
    check_name("user", user).map_err(TaskResult::failed)?;
    if key.starts_with("http") || key.starts_with("file") {
        return Err(TaskResult::failed(format!(
            "key: reading a key from a URL or file ({key}) is not supported by rollout's \
             authorized_key; give the key text (e.g. with lookup('file', ...))"
        )));
    }
    let path = arg_str(args, "path");
    let follow = arg_bool(args, "follow", false);
    let (stdout, _) = run_tool(ctx, &getent_line("passwd", user, "pw"), None).await?;
    let account = tag(&tagged(stdout.as_bytes()), "pw").and_then(parse_passwd);
    let keyfile = match (&account, path) {
        (_, Some(path)) => path.to_string(),
        (Some(pw), None) => format!("{}/.ssh/authorized_keys", pw.home.trim_end_matches('/')),
        (None, None) if ctx.check_mode => {
            return Err(TaskResult::failed(
                "Either user must exist or you must provide full path to key file in check mode",
            ));
        }
        (None, None) => {
            return Err(TaskResult::failed(format!(
                "Failed to lookup user {user}: 'getpwnam(): name not found: {user}'"
            )));
        }
    };
    let keyfile = if follow {
        let line = format!("readlink -f -- {}", shell_quote(&keyfile));
        let (out, _) = run_tool(ctx, &line, None).await?;
        out.trim_end_matches('\n').to_string()
    } else {
        keyfile
    };
    let found = probe_whole_file(ctx, &keyfile).await?;
    let existing =
        String::from_utf8_lossy(found.content.as_deref().unwrap_or_default()).into_owned();
    let mut result = echoed(args).with("keyfile", keyfile.clone());
    let Some(after) = edit(&existing, args).map_err(TaskResult::failed)? else {
        return with_path_info(ctx, result, path).await;
    };
    result.changed = true;
    if ctx.diff {
        result = result.with(
            "diff",
            json!({"before_header": keyfile, "after_header": keyfile,
                   "before": existing, "after": after}),
        );
    }
    if ctx.check_mode {
        return with_path_info(ctx, result, path).await;
    }
    let Some(pw) = account else {
        return Err(TaskResult::failed(format!(
            "Failed to lookup user {user}: 'getpwnam(): name not found: {user}'"
        )));
    };
    let ids = format!("{}:{}", pw.uid, pw.gid);
    if arg_bool(args, "manage_dir", true) {
        let dir = match path {
            Some(_) => std::path::Path::new(&keyfile)
                .parent()
                .map_or_else(|| ".".into(), |p| p.display().to_string()),
            None => format!("{}/.ssh", pw.home.trim_end_matches('/')),
        };
        let nofollow = if follow { "" } else { "-h " };
        let line = format!(
            "d={}; [ -e \"$d\" ] || mkdir -m 700 -- \"$d\" || exit 1\n\
             chown {nofollow}{} \"$d\" && chmod 700 \"$d\"\n",
            shell_quote(&dir),
            shell_quote(&ids)
        );
        run_tool(ctx, &line, None).await?;
    }
    let (uid, gid) = (pw.uid.to_string(), pw.gid.to_string());
    upload(
        ctx,
        &Upload {
            dest: &keyfile,
            content: after.as_bytes(),
            mode: Some(0o600),
            owner: Some(&uid),
            group: Some(&gid),
            make_parents: true,
            follow,
            ..Default::default()
        },
    )
    .await?;
    with_path_info(ctx, result, path).await
}

/// Ansible adds the path's details to a result with a `path` (only when
/// the task gave one: the default is null).
async fn with_path_info(
    ctx: &ModuleContext<'_>,
    result: TaskResult,
    path: Option<&str>,
) -> Result<TaskResult, TaskResult> {
    match path {
        Some(path) => super::remote_file::add_path_info(ctx, result, path).await,
        None => Ok(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;

    const A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui";
    const B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4xA3FEsb82Peoa1QBXTrvM9edA/MGrHfUYif//D+bD";

    #[test]
    fn a_key_is_added_once_with_ansibles_trailing_space() {
        let a = args(json!({"user": "u", "key": A}));
        let first = edit("", &a).unwrap().unwrap();
        assert_eq!(first, format!("{A} \n"));
        assert_eq!(edit(&first, &a).unwrap(), None);
    }

    #[test]
    fn options_and_comments_replace_the_old_line_at_the_end() {
        let file = format!("# keep me\n{A} old\n{B} b\n");
        let a =
            args(json!({"key": A, "key_options": "no-pty,command=\"echo a,b\"", "comment": "new"}));
        let after = edit(&file, &a).unwrap().unwrap();
        assert_eq!(
            after,
            format!("# keep me\n{B} b\nno-pty,command=\"echo a,b\" {A} new\n")
        );
        assert_eq!(edit(&after, &a).unwrap(), None);
    }

    #[test]
    fn absent_removes_and_exclusive_keeps_only_the_given_keys() {
        let file = format!("# c\n{A} a\n{B} b\n");
        let gone = edit(&file, &args(json!({"key": B, "state": "absent"}))).unwrap();
        assert_eq!(gone.unwrap(), format!("# c\n{A} a\n"));
        let only = edit(
            &file,
            &args(json!({"key": format!("{A} a"), "exclusive": true})),
        )
        .unwrap();
        assert_eq!(only.unwrap(), format!("{A} a\n"));
        let several = args(json!({"key": format!("{A} a\n{B} b\n"), "exclusive": true}));
        assert_eq!(edit(&format!("{A} a\n{B} b\n"), &several).unwrap(), None);
    }

    #[test]
    fn bad_keys_fail_and_options_split_outside_quotes() {
        let err = edit("", &args(json!({"key": "not a key"}))).unwrap_err();
        assert_eq!(err, "invalid key specified: not a key");
        assert_eq!(
            parse_options("from=\"10.0.0.1,10.0.0.2\",no-pty"),
            vec![
                (
                    "from".to_string(),
                    Some("\"10.0.0.1,10.0.0.2\"".to_string())
                ),
                ("no-pty".to_string(), None)
            ]
        );
    }
}
