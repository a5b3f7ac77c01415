//! `apt`: install, upgrade and remove Debian packages with `apt-get`, as
//! Ansible's `apt` does but without Python on the host (Ansible's needs
//! python3-apt; rollout reads dpkg's database with `dpkg-query` instead).
//!
//! Every `apt-get` runs with DEBIAN_FRONTEND=noninteractive, the C locale
//! (its output is parsed), Ansible's default dpkg options and
//! `DPkg::Lock::Timeout=lock_timeout` (apt waits on a held dpkg lock, as
//! Ansible's does). Check mode runs `apt-get --simulate`.
//!
//! What changed is read from dpkg's database before and after (or from the
//! `Inst`/`Remv`/`Purg` lines of a simulation), so `changed` means a package
//! changed, and the result's `packages` (rollout's own key) says which, from
//! which version to which: a maintenance window's log says what was patched.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::connection::ExecOutput;
use crate::core::{fnmatch_regex, shell_quote};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "apt",
        &[
            aliases(p("name", Kind::List), &["package", "pkg"]),
            choices(
                p("state", Kind::Str),
                &["absent", "build-dep", "latest", "present", "fixed"],
            ),
            aliases(p("update_cache", Kind::Bool), &["update-cache"]),
            p("cache_valid_time", Kind::Int),
            choices(
                p("upgrade", Kind::Str),
                &["dist", "full", "no", "safe", "yes"],
            ),
            p("autoremove", Kind::Bool),
            p("autoclean", Kind::Bool),
            p("purge", Kind::Bool),
            p("deb", Kind::Str),
            aliases(p("install_recommends", Kind::Bool), &["install-recommends"]),
            p("only_upgrade", Kind::Bool),
            aliases(
                p("allow_downgrade", Kind::Bool),
                &["allow-downgrade", "allow_downgrades", "allow-downgrades"],
            ),
            aliases(
                p("allow_unauthenticated", Kind::Bool),
                &["allow-unauthenticated"],
            ),
            p("allow_change_held_packages", Kind::Bool),
            p("fail_on_autoremove", Kind::Bool),
            p("force", Kind::Bool),
            p("force_apt_get", Kind::Bool),
            p("dpkg_options", Kind::Str),
            aliases(p("default_release", Kind::Str), &["default-release"]),
            p("lock_timeout", Kind::Int),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Ansible's default `dpkg_options`.
const DEFAULT_DPKG_OPTIONS: &str = "force-confdef,force-confold";
/// Ansible's marker of `autoclean` having deleted something.
const AUTOCLEAN_DELETED: &str = "Del ";
/// dpkg's record of the last successful `apt-get update` when a hook keeps
/// it; else the lists directory's time (Ansible's `get_cache_mtime`).
const CACHE_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
const CACHE_LISTS: &str = "/var/lib/apt/lists";

/// A package dpkg knows: its version, and whether it is installed or only
/// its configuration files remain (removed, not purged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub version: String,
    pub installed: bool,
}

pub type Snapshot = BTreeMap<String, Known>;

/// Lists every package dpkg knows: `STATUS<TAB>NAME<TAB>VERSION` lines.
const SNAPSHOT_COMMAND: &str =
    "dpkg-query -W -f='${db:Status-Abbrev}\\t${binary:Package}\\t${Version}\\n'";

pub fn parse_snapshot(stdout: &str) -> Snapshot {
    let mut known = Snapshot::new();
    for line in stdout.lines() {
        let mut fields = line.split('\t');
        let (Some(status), Some(name), Some(version)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // Second letter of the abbreviated status: i = installed,
        // c = config-files (removed, not purged).
        let installed = match status.as_bytes().get(1) {
            Some(b'i') => true,
            Some(b'c') => false,
            _ => continue,
        };
        // `name:amd64` for multi-arch packages; the bare name is what users write.
        let name = name.split(':').next().unwrap_or(name).to_string();
        known.insert(
            name,
            Known {
                version: version.to_string(),
                installed,
            },
        );
    }
    known
}

fn installed_version<'a>(snapshot: &'a Snapshot, name: &str) -> Option<&'a str> {
    snapshot
        .get(name)
        .filter(|k| k.installed)
        .map(|k| k.version.as_str())
}

/// What changed between two snapshots: `{name: {before, after}}`, a
/// version or null for not installed, with `purged: true` where the
/// configuration files went too.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Map<String, Json> {
    let mut out = Map::new();
    for name in before.keys().chain(after.keys()) {
        let (was, now) = (before.get(name), after.get(name));
        if was == now {
            continue;
        }
        let version = |k: Option<&Known>| k.filter(|k| k.installed).map(|k| k.version.clone());
        let mut entry = json!({"before": version(was), "after": version(now)});
        if was.is_some() && now.is_none() {
            entry["purged"] = Json::Bool(true);
        }
        out.insert(name.clone(), entry);
    }
    out
}

/// What `apt-get --simulate` would change, from its `Inst`/`Remv`/`Purg`
/// lines (`Inst NAME [OLD] (NEW ...)`, `Remv NAME [OLD]`).
pub fn simulated_changes(stdout: &str) -> Map<String, Json> {
    let mut out = Map::new();
    for line in stdout.lines() {
        let mut words = line.split_whitespace();
        let (verb, Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let rest: Vec<&str> = words.collect();
        let old = rest
            .first()
            .filter(|w| w.starts_with('['))
            .map(|w| w.trim_matches(['[', ']']));
        let new = rest
            .iter()
            .find(|w| w.starts_with('('))
            .map(|w| w.trim_start_matches('('));
        let mut entry = match verb {
            Some("Inst") => json!({"before": old, "after": new}),
            Some("Remv") => json!({"before": old, "after": null}),
            Some("Purg") => json!({"before": old, "after": null, "purged": true}),
            _ => continue,
        };
        if entry["before"] == entry["after"] {
            // A reinstall of the same version: nothing to report.
            entry = Json::Null;
        }
        if !entry.is_null() {
            out.insert(name.to_string(), entry);
        }
    }
    out
}

/// Ansible's `parse_diff`: apt-get's plan, between its preamble and its
/// `N upgraded` summary.
pub fn prepared(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map_or(0, |i| i + 1);
    let end = lines
        .iter()
        .skip(start)
        .position(|l| {
            let rest = l.trim_start_matches(|c: char| c.is_ascii_digit());
            rest.len() < l.len()
                && (rest.starts_with(" upgraded") || rest.starts_with(" packages upgraded"))
        })
        .map_or(lines.len(), |i| start + i);
    lines[start..end].join("\n")
}

/// `NAME`, `NAME=VERSION` (the version may be a glob such as `1.*`).
pub fn split_spec(spec: &str) -> Result<(&str, Option<&str>), String> {
    match spec.matches('=').count() {
        0 => Ok((spec, None)),
        1 => {
            let (name, version) = spec.split_once('=').unwrap_or((spec, ""));
            Ok((name, Some(version)))
        }
        _ => Err(format!("invalid package spec: {spec}")),
    }
}

/// Whether `installed` satisfies the requested version (a glob or exact).
fn version_matches(installed: &str, wanted: &str) -> bool {
    match fnmatch_regex(wanted) {
        Some(glob) => glob.is_match(installed),
        None => installed == wanted,
    }
}

/// The options every apt-get line carries: dpkg's (`-o
/// Dpkg::Options::=--force-confdef`...) and the lock wait.
pub fn common_options(args: &Vars) -> String {
    let dpkg = arg_str(args, "dpkg_options").unwrap_or(DEFAULT_DPKG_OPTIONS);
    let mut out: Vec<String> = dpkg
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| format!("-o {}", shell_quote(&format!("Dpkg::Options::=--{o}"))))
        .collect();
    let timeout = args
        .get("lock_timeout")
        .and_then(Json::as_i64)
        .unwrap_or(60);
    out.push(format!("-o DPkg::Lock::Timeout={timeout}"));
    out.join(" ")
}

/// The flags shared by install, upgrade and remove lines.
fn flags(args: &Vars, ctx: &ModuleContext<'_>, keys: &[(&str, &str)]) -> String {
    let mut out = vec![String::from("-y"), common_options(args)];
    for (key, flag) in keys {
        if arg_bool(args, key, false) {
            out.push(flag.to_string());
        }
    }
    if ctx.check_mode {
        out.push("--simulate".into());
    }
    out.join(" ")
}

/// Flags of `install` and `upgrade` that follow Ansible's parameters.
const INSTALL_FLAGS: &[(&str, &str)] = &[
    ("force", "--force-yes"),
    ("fail_on_autoremove", "--no-remove"),
    ("allow_unauthenticated", "--allow-unauthenticated"),
    ("allow_downgrade", "--allow-downgrades"),
    ("allow_change_held_packages", "--allow-change-held-packages"),
];

/// `-t RELEASE` and the recommends switch, after the packages.
fn install_tail(args: &Vars) -> String {
    let mut out = String::new();
    if let Some(release) = arg_str(args, "default_release") {
        out.push_str(&format!(" -t {}", shell_quote(release)));
    }
    match args.get("install_recommends").and_then(Json::as_bool) {
        Some(true) => out.push_str(" -o APT::Install-Recommends=yes"),
        Some(false) => out.push_str(" -o APT::Install-Recommends=no"),
        None => {}
    }
    out
}

/// What the task asks of the named packages, as one apt-get line (None:
/// nothing to do).
pub fn packages_command(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    names: &[String],
    snapshot: &Snapshot,
) -> Result<Option<String>, String> {
    let state = arg_str(args, "state").unwrap_or("present");
    let only_upgrade = arg_bool(args, "only_upgrade", false);
    let mut wanted = Vec::new();
    for spec in names {
        let (name, version) = split_spec(spec)?;
        let current = installed_version(snapshot, name);
        let needed = match state {
            "absent" => match (current, version) {
                (Some(v), Some(want)) => version_matches(v, want),
                (Some(_), None) => true,
                // Removed but configured: only a purge has work left.
                (None, _) => arg_bool(args, "purge", false) && snapshot.contains_key(name),
            },
            // apt-get says whether a newer version exists.
            "latest" => current.is_some() || !only_upgrade,
            _ => match (current, version) {
                (None, _) => !only_upgrade,
                (Some(v), Some(want)) => !version_matches(v, want),
                (Some(_), None) => false,
            },
        };
        if needed {
            wanted.push(shell_quote(match state {
                "absent" | "latest" => name,
                _ => spec,
            }));
        }
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    let packages = wanted.join(" ");
    Ok(Some(if state == "absent" {
        format!(
            "apt-get -q {} remove {packages}",
            flags(
                args,
                ctx,
                &[
                    ("purge", "--purge"),
                    ("force", "--force-yes"),
                    ("autoremove", "--auto-remove"),
                ]
            )
        )
    } else {
        let mut keys = INSTALL_FLAGS.to_vec();
        keys.push(("only_upgrade", "--only-upgrade"));
        keys.push(("autoremove", "--auto-remove"));
        let fixed = if state == "fixed" {
            " --fix-broken"
        } else {
            ""
        };
        format!(
            "apt-get {}{fixed} install {packages}{}",
            flags(args, ctx, &keys),
            install_tail(args)
        )
    }))
}

/// `upgrade=`: apt-get's dist-upgrade, or upgrade with new packages (rollout
/// always uses apt-get, as Ansible does when aptitude is absent).
pub fn upgrade_command(args: &Vars, ctx: &ModuleContext<'_>, mode: &str) -> String {
    let action = match mode {
        "dist" | "full" => "dist-upgrade",
        _ => "upgrade --with-new-pkgs",
    };
    let autoremove = if arg_bool(args, "autoremove", false) {
        " --auto-remove"
    } else {
        ""
    };
    let release = arg_str(args, "default_release")
        .map(|r| format!(" -t {}", shell_quote(r)))
        .unwrap_or_default();
    format!(
        "apt-get {} {action}{autoremove}{release}",
        flags(args, ctx, INSTALL_FLAGS)
    )
}

/// The environment apt-get runs in: what apt needs (non-interactive, a
/// parsable locale), over the task's `environment:` the connection exports.
fn with_env(line: &str) -> String {
    format!(
        "export DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical \
         LANG=C LC_ALL=C LC_MESSAGES=C LC_CTYPE=C LANGUAGE=C; {line}"
    )
}

pub(crate) async fn exec(ctx: &ModuleContext<'_>, line: &str) -> Result<ExecOutput, TaskResult> {
    ctx.conn
        .exec(&with_env(line), None)
        .await
        .map_err(TaskResult::from_connection)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn snapshot(ctx: &ModuleContext<'_>) -> Result<Snapshot, TaskResult> {
    let out = exec(ctx, SNAPSHOT_COMMAND).await?;
    if out.rc != 0 {
        return Err(TaskResult::failed(format!(
            "dpkg-query failed (is this a Debian host?): {}",
            text(&out.stderr).trim()
        )));
    }
    Ok(parse_snapshot(&text(&out.stdout)))
}

/// `update_cache` / `cache_valid_time`: runs `apt-get update` unless the
/// cache is fresh enough; `(updated, update_time)`.
async fn update_cache(args: &Vars, ctx: &ModuleContext<'_>) -> Result<(bool, i64), TaskResult> {
    let mtime_line = format!(
        "stat -c %Y {} 2>/dev/null || stat -c %Y {} 2>/dev/null || echo 0; date +%s",
        shell_quote(CACHE_STAMP),
        shell_quote(CACHE_LISTS)
    );
    let times = |out: &ExecOutput| -> (i64, i64) {
        let stdout = text(&out.stdout);
        let mut n = stdout
            .split_whitespace()
            .map(|w| w.parse::<i64>().unwrap_or(0));
        (n.next().unwrap_or(0), n.next().unwrap_or(0))
    };
    let (mtime, now) = times(&exec(ctx, &mtime_line).await?);
    let wanted = arg_bool(args, "update_cache", false);
    let valid = args
        .get("cache_valid_time")
        .and_then(Json::as_i64)
        .unwrap_or(0);
    if !(wanted || valid > 0) || (valid > 0 && mtime + valid >= now) {
        return Ok((false, mtime));
    }
    if ctx.check_mode {
        return Ok((true, mtime));
    }
    let line = format!("apt-get -q {} update", common_options(args));
    let out = exec(ctx, &line).await?;
    if out.rc != 0 {
        return Err(TaskResult::failed(format!(
            "Failed to update apt cache: {}",
            text(&out.stderr).trim()
        ))
        .with("rc", out.rc)
        .with("stdout", text(&out.stdout))
        .with("stderr", text(&out.stderr)));
    }
    // `apt-get update` ran: the cache is as fresh as it gets now, even when
    // nothing in the lists changed (so their time did not move).
    Ok((true, now))
}

/// `deb`: installs a package file already on the host, unless that very
/// version is installed (or `force`).
async fn deb_command(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    path: &str,
    snapshot: &Snapshot,
) -> Result<Option<String>, TaskResult> {
    let fields = exec(
        ctx,
        &format!("dpkg-deb --field {} Package Version", shell_quote(path)),
    )
    .await?;
    if fields.rc != 0 {
        return Err(TaskResult::failed(format!(
            "Unable to read the package file {path}: {}",
            text(&fields.stderr).trim()
        )));
    }
    let stdout = text(&fields.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    let (name, version) = (field("Package"), field("Version"));
    if installed_version(snapshot, &name) == Some(version.as_str())
        && !arg_bool(args, "force", false)
    {
        return Ok(None);
    }
    // apt-get takes a file for a package only as a path (`./x.deb`).
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("./{path}")
    };
    Ok(Some(format!(
        "apt-get {} install {}{}",
        flags(args, ctx, INSTALL_FLAGS),
        shell_quote(&path),
        install_tail(args)
    )))
}

/// The versions apt knows of a package, best first (`apt-cache madison`:
/// `NAME | VERSION | SOURCE` lines).
pub fn parse_madison(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.split('|').nth(1))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `NAME=1.*` → `NAME=1.4-2`, the best version apt has that matches, as
/// Ansible picks it (apt-get itself takes exact versions only); kept as it
/// is when the installed version already matches.
async fn resolve_version_globs(
    ctx: &ModuleContext<'_>,
    names: &[String],
    snapshot: &Snapshot,
) -> Result<Vec<String>, TaskResult> {
    let mut out = Vec::with_capacity(names.len());
    for spec in names {
        let (name, Some(wanted)) = split_spec(spec).map_err(TaskResult::failed)? else {
            out.push(spec.clone());
            continue;
        };
        let Some(glob) = fnmatch_regex(wanted) else {
            out.push(spec.clone());
            continue;
        };
        if installed_version(snapshot, name).is_some_and(|v| glob.is_match(v)) {
            out.push(spec.clone());
            continue;
        }
        let madison = exec(ctx, &format!("apt-cache madison {}", shell_quote(name))).await?;
        let best = parse_madison(&text(&madison.stdout))
            .into_iter()
            .find(|v| glob.is_match(v))
            .ok_or_else(|| {
                TaskResult::failed(format!("no available installation candidate for {spec}"))
            })?;
        out.push(format!("{name}={best}"));
    }
    Ok(out)
}

/// Ansible's messages for arguments that cannot go together.
fn check_args(args: &Vars, names: &[String]) -> Result<(), String> {
    // Ansible's required_one_of (autoremove, deb, package, update_cache,
    // upgrade) never fails: `upgrade` defaults to "no". Nothing to do is ok.
    let exclusive = ["deb", "name", "upgrade"]
        .iter()
        .filter(|k| args.get(**k).is_some_and(|v| !v.is_null()))
        .count();
    if exclusive > 1 {
        return Err("parameters are mutually exclusive: deb|package|upgrade".into());
    }
    if arg_str(args, "state") == Some("build-dep") {
        return Err("state=build-dep is not supported by rollout's apt".into());
    }
    if arg_str(args, "deb").is_some() && !matches!(arg_str(args, "state"), None | Some("present")) {
        return Err("deb only supports state=present".into());
    }
    if names.iter().any(|n| n == "*") {
        return Err(
            "name='*' (upgrade every installed package) is not supported by rollout's apt; \
             use upgrade=yes"
                .into(),
        );
    }
    Ok(())
}

/// The one apt-get line the task needs after the cache, if any.
async fn action(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    names: &[String],
    snapshot: &Snapshot,
) -> Result<Option<String>, TaskResult> {
    if let Some(mode) = arg_str(args, "upgrade").filter(|m| *m != "no") {
        return Ok(Some(upgrade_command(args, ctx, mode)));
    }
    if let Some(path) = arg_str(args, "deb") {
        return deb_command(args, ctx, path, snapshot).await;
    }
    if !names.is_empty() {
        let names = if arg_str(args, "state") == Some("absent") {
            names.to_vec()
        } else {
            resolve_version_globs(ctx, names, snapshot).await?
        };
        return packages_command(args, ctx, &names, snapshot).map_err(TaskResult::failed);
    }
    let purge = if arg_bool(args, "purge", false) {
        " --purge"
    } else {
        ""
    };
    for operation in ["autoclean", "autoremove"] {
        if arg_bool(args, operation, false) {
            return Ok(Some(format!(
                "apt-get {}{purge} {operation}",
                flags(args, ctx, &[("force", "--force-yes")])
            )));
        }
    }
    Ok(None)
}

/// Ansible's message for a package apt does not know.
fn failure_message(line: &str, stderr: &str) -> String {
    let unknown: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("E: Unable to locate package "))
        .collect();
    if let [name, ..] = unknown.as_slice() {
        return format!("No package matching '{name}' is available");
    }
    format!("'{line}' failed: {}", stderr.trim())
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let names: Vec<String> = match args.get("name") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| crate::core::display_text(v).trim().to_string())
            .collect(),
        _ => Vec::new(),
    };
    check_args(args, &names).map_err(TaskResult::failed)?;
    let before = snapshot(ctx).await?;
    let (cache_updated, cache_update_time) = update_cache(args, ctx).await?;
    let cache_fields = |r: TaskResult| {
        r.with("cache_updated", cache_updated)
            .with("cache_update_time", cache_update_time)
    };
    let upgrading = arg_str(args, "upgrade").is_some_and(|m| m != "no");
    let packages_asked = !names.is_empty() || upgrading || arg_str(args, "deb").is_some();
    let cache_asked = arg_bool(args, "update_cache", false)
        || args
            .get("cache_valid_time")
            .and_then(Json::as_i64)
            .unwrap_or(0)
            > 0;
    // As Ansible: a cache update with no package, upgrade or deb is the
    // whole task (its autoremove/autoclean are not run), changed when the
    // cache was; with them, only what they do counts as a change.
    let line = if cache_asked && !packages_asked {
        None
    } else {
        action(args, ctx, &names, &before).await?
    };
    let Some(line) = line else {
        let mut result = if cache_updated && !packages_asked {
            TaskResult::changed()
        } else {
            TaskResult::ok()
        };
        if packages_asked {
            result = result.with("stdout", "").with("stderr", "");
        }
        return Ok(cache_fields(
            result.with("packages", Json::Object(Map::new())),
        ));
    };
    let out = exec(ctx, &line).await?;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if out.rc != 0 {
        return Err(cache_fields(
            TaskResult::failed(failure_message(&line, &stderr))
                .with("rc", out.rc)
                .with("stdout", stdout)
                .with("stderr", stderr),
        ));
    }
    let packages = if ctx.check_mode {
        simulated_changes(&stdout)
    } else {
        changes(&before, &snapshot(ctx).await?)
    };
    let changed = !packages.is_empty()
        || (arg_bool(args, "autoclean", false) && stdout.contains(AUTOCLEAN_DELETED));
    let mut result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    if upgrading {
        result = result.with_msg(stdout.clone());
    }
    if ctx.diff && changed {
        result = result.with("diff", json!({"prepared": prepared(&stdout)}));
    }
    Ok(cache_fields(
        result
            .with("stdout", stdout)
            .with("stderr", stderr)
            .with("packages", Json::Object(packages)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_know_installed_and_configured_packages() {
        let known = parse_snapshot(
            "ii \tbash\t5.2.15-2+b7\nrc \trollout-hello\t1.1\nun \tgone\t\nii \tlibc6:amd64\t2.36\n",
        );
        assert_eq!(installed_version(&known, "bash"), Some("5.2.15-2+b7"));
        assert_eq!(installed_version(&known, "libc6"), Some("2.36"));
        assert_eq!(installed_version(&known, "rollout-hello"), None);
        assert!(known.contains_key("rollout-hello"));
        assert!(!known.contains_key("gone"));
    }

    #[test]
    fn changes_say_from_which_version_to_which() {
        let before = parse_snapshot("ii \ta\t1.0\nii \tb\t2\n");
        let after = parse_snapshot("ii \ta\t1.1\nii \tc\t3\nrc \tb\t2\n");
        let got = changes(&before, &after);
        assert_eq!(got["a"], json!({"before": "1.0", "after": "1.1"}));
        assert_eq!(got["b"], json!({"before": "2", "after": null}));
        let purged = changes(&after, &parse_snapshot("ii \ta\t1.1\nii \tc\t3\n"));
        assert_eq!(
            purged["b"],
            json!({"before": null, "after": null, "purged": true})
        );
        assert_eq!(got["c"], json!({"before": null, "after": "3"}));
        assert!(changes(&before, &before).is_empty());
    }

    #[test]
    fn simulations_are_read_from_inst_and_remv_lines() {
        let out = "NOTE: This is only a simulation!\nInst rollout-lib [1.0] (1.1 localhost [all])\n\
                   Inst rollout-hello (1.1 localhost [all])\nConf rollout-lib (1.1 localhost [all])\n\
                   Remv old [0.9]\n";
        let got = simulated_changes(out);
        assert_eq!(got["rollout-lib"], json!({"before": "1.0", "after": "1.1"}));
        assert_eq!(
            got["rollout-hello"],
            json!({"before": null, "after": "1.1"})
        );
        assert_eq!(got["old"], json!({"before": "0.9", "after": null}));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn specs_and_versions() {
        assert_eq!(split_spec("nginx"), Ok(("nginx", None)));
        assert_eq!(split_spec("nginx=1.2*"), Ok(("nginx", Some("1.2*"))));
        assert!(
            split_spec("a=1=2")
                .unwrap_err()
                .contains("invalid package spec")
        );
        assert!(version_matches("1.18.0-6", "1.18*"));
        assert!(!version_matches("1.18.0-6", "1.18"));
        assert!(version_matches("1.18", "1.18"));
    }

    #[test]
    fn madison_lists_versions_best_first() {
        let out = "rollout-hello |        1.1 | file:/srv/repo ./ Packages\n\
                   rollout-hello |        1.0 | file:/srv/repo ./ Packages\n";
        assert_eq!(parse_madison(out), ["1.1", "1.0"]);
        assert!(parse_madison("").is_empty());
    }

    #[test]
    fn prepared_is_the_plan_between_preamble_and_summary() {
        let out = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                   The following packages will be upgraded:\n  rollout-hello\n\
                   1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\nDone\n";
        assert_eq!(
            prepared(out),
            "The following packages will be upgraded:\n  rollout-hello"
        );
    }

    #[test]
    fn dpkg_options_and_the_lock_wait_are_on_every_line() {
        let args: Vars = serde_json::from_value(json!({"lock_timeout": 5})).unwrap();
        assert_eq!(
            common_options(&args),
            "-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
             -o DPkg::Lock::Timeout=5"
        );
        let args: Vars = serde_json::from_value(json!({"dpkg_options": "force-confnew"})).unwrap();
        assert!(common_options(&args).starts_with("-o Dpkg::Options::=--force-confnew -o"));
    }

    #[test]
    fn arguments_that_cannot_go_together_fail_as_in_ansible() {
        let args = |v: Json| -> Vars { serde_json::from_value(v).unwrap() };
        assert!(check_args(&args(json!({"state": "present"})), &[]).is_ok());
        assert!(
            check_args(
                &args(json!({"name": ["a"], "upgrade": "dist"})),
                &["a".into()]
            )
            .unwrap_err()
            .contains("mutually exclusive")
        );
        assert!(check_args(&args(json!({"update_cache": true})), &[]).is_ok());
        assert!(
            check_args(
                &args(json!({"name": ["a"], "state": "build-dep"})),
                &["a".into()]
            )
            .unwrap_err()
            .contains("not supported")
        );
    }
}
