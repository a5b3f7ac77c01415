//! What `user`, `group` and `authorized_key` share: the account databases
//! read through `getent` on the host (so NSS sources count, as Python's
//! `pwd`/`grp` see them), and the checks on names before they reach the
//! shadow tools.

use super::remote_file::exec;
use super::{ModuleContext, TaskResult};
use crate::core::shell_quote;

/// One `passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
}

/// `name:x:uid:gid:gecos:home:shell`.
pub fn parse_passwd(line: &str) -> Option<Passwd> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() < 7 {
        return None;
    }
    Some(Passwd {
        name: f[0].into(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        comment: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
    })
}

/// One `group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// `name:x:gid:member,member`.
pub fn parse_group(line: &str) -> Option<Group> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() < 4 {
        return None;
    }
    Some(Group {
        name: f[0].into(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// Refuses names the shadow tools would read as options or that cannot be
/// stored in their colon-separated files, before any command runs.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.starts_with('-')
        || name
            .chars()
            .any(|c| c == ':' || c == ',' || c == '/' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(format!(
            "invalid {kind} name '{name}': a {kind} name must not be empty, start with '-' \
             or contain ':', ',', '/' or whitespace"
        ));
    }
    Ok(())
}

/// `getent DATABASE KEY`, printed as `TAG=entry` when it exists (one line
/// of a probe script).
pub fn getent_line(database: &str, key: &str, tag: &str) -> String {
    format!(
        "if e=$(getent {database} {}); then printf '%s=%s\\n' {} \"$e\"; fi\n",
        shell_quote(key),
        shell_quote(tag)
    )
}

/// The `TAG=value` lines a probe printed, in order.
pub fn tagged(stdout: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of the first `tag` line.
pub fn tag<'a>(lines: &'a [(String, String)], tag: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(k, _)| k == tag)
        .map(|(_, v)| v.as_str())
}

/// Runs a shell line (with optional stdin) and fails the task with
/// `what` and the tool's stderr when it exits non-zero, as Ansible's
/// modules report `msg=err, rc=rc`.
pub async fn run_tool(
    ctx: &ModuleContext<'_>,
    line: &str,
    stdin: Option<&[u8]>,
) -> Result<(String, String), TaskResult> {
    let out = exec(ctx, line, stdin).await?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.rc != 0 {
        let msg = if stderr.trim().is_empty() {
            format!("the command failed with exit code {}", out.rc)
        } else {
            stderr.trim().to_string()
        };
        return Err(TaskResult::failed(msg)
            .with("rc", out.rc)
            .with("stdout", stdout)
            .with("stderr", stderr));
    }
    Ok((stdout, stderr))
}

/// A command line from words, each quoted.
pub fn command_line(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse() {
        let p = parse_passwd("deploy:x:1001:1002:Deploy User:/home/deploy:/bin/bash").unwrap();
        assert_eq!(
            (p.uid, p.gid, p.home.as_str()),
            (1001, 1002, "/home/deploy")
        );
        assert_eq!(p.comment, "Deploy User");
        assert!(parse_passwd("broken:x").is_none());
        let g = parse_group("adm:x:4:syslog,deploy").unwrap();
        assert_eq!(g.members, ["syslog", "deploy"]);
        assert!(parse_group("empty:x:5:").unwrap().members.is_empty());
    }

    #[test]
    fn names_that_would_be_options_or_break_the_files_are_refused() {
        assert!(check_name("user", "deploy").is_ok());
        assert!(check_name("user", "svc.app-1_x$").is_ok());
        for bad in ["", "-rf", "a:b", "a,b", "a/b", "a b", "a\nb"] {
            let err = check_name("user", bad).unwrap_err();
            assert!(err.contains("invalid user name"), "{err}");
        }
    }

    #[test]
    fn probe_lines_are_quoted_and_tagged() {
        let line = getent_line("group", "a'b", "g0");
        assert!(line.contains(r"getent group 'a'\''b'"), "{line}");
        let lines = tagged(b"pw=a:x:1:1::/h:/bin/sh\nmember=adm\nmember=sudo\n");
        assert_eq!(tag(&lines, "pw"), Some("a:x:1:1::/h:/bin/sh"));
        assert_eq!(lines.len(), 3);
        assert_eq!(
            command_line(&["usermod".into(), "-c".into(), "A B".into()]),
            "usermod -c 'A B'"
        );
    }
}
