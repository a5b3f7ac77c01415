//! `dnf`, and `yum` (which ansible-core 2.19 redirects to `dnf`): install,
//! upgrade and remove rpm packages with the `dnf` command line, as
//! Ansible's `dnf` does through dnf's Python API, but with no Python on
//! the host.
//!
//! What is there is decided from rpm's database first (`rpm -q` per spec,
//! by name, version or what it provides), what is newer from `dnf
//! check-update`, so a task with nothing to do runs no transaction. What
//! changed is rpm's list of installed packages before and after; in check
//! mode, the transaction table of the same dnf line with `--assumeno`.
//! The result has Ansible's `results` (`Installed: NAME-EVR.ARCH`,
//! `Removed: ...`), `msg` and `rc`, and apt's `packages` ({name: {before,
//! after}}), so a maintenance window's log says what was patched.
//!
//! No RHEL host is available to the tests: command lines are unit-tested
//! and the parsers read recorded outputs of real dnf 4 runs
//! (tests/fixtures/dnf, recorded by tests/bed/dnf-record). dnf5's
//! command line (Fedora 41+) prints differently and is refused.

mod parse;
mod vercmp;

pub use parse::{Snapshot, changes, parse_snapshot};

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_list, arg_str};
use crate::connection::ExecOutput;
use crate::core::{display_text, shell_quote};
use parse::{apply, parse_transaction, results, unmatched};
use serde_json::{Map, Value as Json, json};
use std::cmp::Ordering;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "dnf",
        &[
            aliases(p("name", Kind::List), &["pkg"]),
            choices(
                p("state", Kind::Str),
                &["absent", "installed", "latest", "present", "removed"],
            ),
            aliases(p("update_cache", Kind::Bool), &["expire-cache"]),
            p("security", Kind::Bool),
            p("bugfix", Kind::Bool),
            p("exclude", Kind::List),
            p("update_only", Kind::Bool),
            p("enablerepo", Kind::List),
            p("disablerepo", Kind::List),
            p("disable_gpg_check", Kind::Bool),
            p("allow_downgrade", Kind::Bool),
            p("allowerasing", Kind::Bool),
            p("autoremove", Kind::Bool),
            p("install_weak_deps", Kind::Bool),
            p("download_only", Kind::Bool),
            p("download_dir", Kind::Str),
            p("lock_timeout", Kind::Int),
            p("conf_file", Kind::Str),
            p("installroot", Kind::Str),
            p("releasever", Kind::Any),
            p("nobest", Kind::Bool),
            p("best", Kind::Bool),
            p("skip_broken", Kind::Bool),
            p("cacheonly", Kind::Bool),
            p("disable_excludes", Kind::Str),
            p("disable_plugin", Kind::List),
            p("enable_plugin", Kind::List),
            p("validate_certs", Kind::Bool),
            p("sslverify", Kind::Bool),
            p("install_repoquery", Kind::Bool),
            p("list", Kind::Str),
            choices(
                p("use_backend", Kind::Str),
                &["auto", "dnf", "yum", "yum4", "dnf4", "dnf5"],
            ),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// `yum`: ansible-core 2.19's runtime redirects it to `dnf`.
pub const YUM: Module = MODULE.named("yum");

/// A list argument with Ansible's comma splitting (`name: "a,b"`).
fn listify(args: &Vars, key: &str) -> Vec<String> {
    arg_list(args, key)
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn installroot(args: &Vars) -> Option<&str> {
    arg_str(args, "installroot").filter(|r| !r.is_empty() && *r != "/")
}

/// `--flag=VALUE`, quoted as one word.
fn opt(flag: &str, value: &str) -> String {
    shell_quote(&format!("--{flag}={value}"))
}

/// The options every dnf line of the task carries, from its arguments.
pub fn dnf_options(args: &Vars) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(conf) = arg_str(args, "conf_file") {
        out.push(opt("config", conf));
    }
    if let Some(root) = installroot(args) {
        out.push(opt("installroot", root));
    }
    if let Some(release) = args.get("releasever").filter(|v| !v.is_null()) {
        out.push(opt("releasever", &display_text(release)));
    }
    // Ansible disables before it enables, so `disablerepo: "*"` with
    // `enablerepo: one` leaves one.
    for (key, flag) in [
        ("disablerepo", "disablerepo"),
        ("enablerepo", "enablerepo"),
        ("exclude", "exclude"),
        ("disable_plugin", "disableplugin"),
        ("enable_plugin", "enableplugin"),
    ] {
        out.extend(listify(args, key).iter().map(|v| opt(flag, v)));
    }
    if let Some(which) = arg_str(args, "disable_excludes") {
        out.push(opt("disableexcludes", which));
    }
    for (key, flag) in [
        ("disable_gpg_check", "--nogpgcheck"),
        ("nobest", "--nobest"),
        ("skip_broken", "--skip-broken"),
        ("allowerasing", "--allowerasing"),
        ("cacheonly", "--cacheonly"),
    ] {
        if arg_bool(args, key, false) {
            out.push(flag.into());
        }
    }
    if args.get("best").and_then(Json::as_bool) == Some(true) {
        out.push("--best".into());
    }
    if !arg_bool(args, "install_weak_deps", true) {
        out.push("--setopt=install_weak_deps=False".into());
    }
    if !arg_bool(args, "sslverify", true) || !arg_bool(args, "validate_certs", true) {
        out.push("--setopt=sslverify=False".into());
    }
    out
}

/// `--security`/`--bugfix`: the advisories an upgrade is limited to.
fn advisory_filters(args: &Vars) -> Vec<String> {
    [("security", "--security"), ("bugfix", "--bugfix")]
        .iter()
        .filter(|(key, _)| arg_bool(args, key, false))
        .map(|(_, flag)| flag.to_string())
        .collect()
}

/// One dnf line: `dnf OPTIONS -y|--assumeno VERB EXTRA -- SPECS`.
pub fn dnf_line(args: &Vars, check_mode: bool, verb: &str, specs: &[String]) -> String {
    let mut words = vec!["dnf".to_string()];
    words.extend(dnf_options(args));
    words.push(if check_mode { "--assumeno" } else { "-y" }.into());
    // Ansible limits only upgrades to security/bugfix advisories: an
    // install of a package without one must still install it.
    if verb == "upgrade" {
        words.extend(advisory_filters(args));
    }
    if matches!(verb, "install" | "upgrade") && arg_bool(args, "download_only", false) {
        words.push("--downloadonly".into());
        if let Some(dir) = arg_str(args, "download_dir") {
            words.push(opt("downloaddir", dir));
        }
    }
    words.push(verb.into());
    if !specs.is_empty() {
        words.push("--".into());
        words.extend(specs.iter().map(|s| shell_quote(s)));
    }
    words.join(" ")
}

/// `dnf check-update` of `specs` (all when empty): exit 100 when some
/// package has an update.
pub fn check_update_line(args: &Vars, specs: &[String]) -> String {
    let mut words = vec!["dnf".to_string()];
    words.extend(dnf_options(args));
    words.push("-q".into());
    words.extend(advisory_filters(args));
    words.push("check-update".into());
    if !specs.is_empty() {
        words.push("--".into());
        words.extend(specs.iter().map(|s| shell_quote(s)));
    }
    words.join(" ")
}

fn rpm(args: &Vars) -> String {
    match installroot(args) {
        Some(root) => format!("rpm --root {}", shell_quote(root)),
        None => "rpm".into(),
    }
}

/// Lists the installed packages (`parse::RPM_QF` lines).
pub fn snapshot_line(args: &Vars) -> String {
    format!("{} -qa --qf {}", rpm(args), shell_quote(parse::RPM_QF))
}

/// Prints each of `specs` that is installed: by name (with a version,
/// release or arch), by what a package provides, or as a glob.
pub fn installed_specs_line(args: &Vars, specs: &[String]) -> String {
    let rpm = rpm(args);
    let quoted: Vec<String> = specs.iter().map(|s| shell_quote(s)).collect();
    format!(
        "for s in {}; do if {rpm} -q --quiet -- \"$s\" || {rpm} -q --quiet --whatprovides -- \"$s\" \
         || [ -n \"$({rpm} -qa -- \"$s\" 2>/dev/null)\" ]; then printf '%s\\n' \"$s\"; fi; done",
        quoted.join(" ")
    )
}

/// Whether `spec` names an older version of a package that is installed
/// newer (`foo-1.0` with foo 1.1 installed): Ansible's dnf leaves such a
/// package alone unless `allow_downgrade`.
pub fn newer_installed(snapshot: &Snapshot, spec: &str) -> bool {
    snapshot.iter().any(|(name, installed)| {
        let Some(wanted) = spec
            .strip_prefix(name.as_str())
            .and_then(|r| r.strip_prefix('-'))
        else {
            return false;
        };
        if !wanted.starts_with(|c: char| c.is_ascii_digit()) {
            return false;
        }
        installed.iter().any(|i| {
            let wanted = wanted
                .strip_suffix(&format!(".{}", i.arch))
                .unwrap_or(wanted);
            vercmp::evrcmp(&i.evr, wanted) == Ordering::Greater
        })
    })
}

/// Ansible's checks before anything runs.
fn check_args(args: &Vars, names: &[String], state: &str) -> Result<(), String> {
    if let Some(name) = names
        .iter()
        .find(|n| n.contains(' ') && !n.contains(['@', '>', '<', '=']))
    {
        return Err(format!(
            "It appears that a space separated string of packages was passed in as an argument. \
             To operate on several packages, pass a comma separated string of packages or a list \
             of packages. ({name:?})"
        ));
    }
    if arg_bool(args, "autoremove", false) && state != "absent" {
        return Err("Autoremove should be used alone or with state=absent".into());
    }
    if arg_str(args, "list").is_some() {
        return Err(
            "list is not supported by rollout's dnf; use package_facts, or `command: dnf list`"
                .into(),
        );
    }
    if arg_str(args, "use_backend") == Some("dnf5") {
        return Err(
            "use_backend=dnf5 is not supported by rollout's dnf (it drives the dnf 4 command line)"
                .into(),
        );
    }
    if names.iter().any(|n| n == "*") && state != "latest" {
        return Err("name='*' is only supported with state=latest (upgrade every package)".into());
    }
    Ok(())
}

/// dnf's output in a parsable locale, over the task's `environment:` the
/// connection exports.
fn with_env(line: &str) -> String {
    format!("export LANG=C LC_ALL=C LC_MESSAGES=C LANGUAGE=C; {line}")
}

async fn exec(ctx: &ModuleContext<'_>, line: &str) -> Result<ExecOutput, TaskResult> {
    let out = ctx
        .conn
        .exec(&with_env(line), None)
        .await
        .map_err(TaskResult::from_connection)?;
    if out.rc == 127 {
        return Err(TaskResult::failed(format!(
            "{} is not installed on this host (is it an rpm-based host? for Debian use apt)",
            line.split_whitespace().next().unwrap_or("dnf")
        ))
        .with("rc", out.rc)
        .with("results", json!([])));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn snapshot(args: &Vars, ctx: &ModuleContext<'_>) -> Result<Snapshot, TaskResult> {
    let out = exec(ctx, &snapshot_line(args)).await?;
    if out.rc != 0 {
        return Err(TaskResult::failed(format!(
            "rpm failed to list the installed packages: {}",
            text(&out.stderr).trim()
        )));
    }
    Ok(parse_snapshot(&text(&out.stdout)))
}

async fn installed_specs(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    specs: &[String],
) -> Result<Vec<String>, TaskResult> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let out = exec(ctx, &installed_specs_line(args, specs)).await?;
    Ok(text(&out.stdout).lines().map(str::to_string).collect())
}

/// Whether any of `specs` (any installed package when empty) has an
/// update: `dnf check-update` exits 100 then, 0 when there is none.
async fn has_updates(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    specs: &[String],
) -> Result<bool, TaskResult> {
    let out = exec(ctx, &check_update_line(args, specs)).await?;
    match out.rc {
        0 => Ok(false),
        100 => Ok(true),
        rc => Err(dnf_failure(rc, &text(&out.stdout), &text(&out.stderr))),
    }
}

/// A failed dnf line as Ansible reports it.
fn dnf_failure(rc: i32, stdout: &str, stderr: &str) -> TaskResult {
    let missing = unmatched(stdout, stderr);
    let (msg, failures): (String, Vec<String>) = if missing.is_empty() {
        let error = stderr
            .lines()
            .find_map(|l| l.strip_prefix("Error: "))
            .unwrap_or(stderr.trim());
        (format!("Unknown Error occurred: {error}"), Vec::new())
    } else {
        (
            "Failed to install some of the specified packages".into(),
            missing
                .iter()
                .map(|n| format!("No package {n} available."))
                .collect(),
        )
    };
    TaskResult::failed(msg)
        .with("rc", rc)
        .with("failures", json!(failures))
        .with("results", json!([]))
        .with("stdout", stdout)
        .with("stderr", stderr)
}

/// The dnf lines the task needs (none when everything is as asked), and
/// Ansible's notes for the `results` of packages it leaves alone.
async fn plan(
    args: &Vars,
    ctx: &ModuleContext<'_>,
    names: &[String],
    state: &str,
    before: &Snapshot,
) -> Result<(Vec<String>, Vec<String>), TaskResult> {
    let check = ctx.check_mode;
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    if names == ["*"] {
        if has_updates(args, ctx, &[]).await? {
            lines.push(dnf_line(args, check, "upgrade", &[]));
        }
        return Ok((lines, notes));
    }
    let installed = installed_specs(args, ctx, names).await?;
    if state == "absent" {
        // dnf's own words for a name with nothing installed, which
        // Ansible's results carry.
        notes.extend(
            names
                .iter()
                .filter(|n| !installed.contains(n))
                .map(|n| format!("No match for argument: {n}")),
        );
        if !installed.is_empty() {
            lines.push(dnf_line(args, check, "remove", &installed));
        }
        if arg_bool(args, "autoremove", false) {
            lines.push(dnf_line(args, check, "autoremove", &[]));
        }
        return Ok((lines, notes));
    }
    let update_only = arg_bool(args, "update_only", false);
    let allow_downgrade = arg_bool(args, "allow_downgrade", false);
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !installed.contains(n))
        .filter(|n| allow_downgrade || !newer_installed(before, n))
        .cloned()
        .collect();
    if update_only {
        notes.extend(
            missing.iter().map(|n| {
                format!("Packages providing {n} not installed due to update_only specified")
            }),
        );
    } else if !missing.is_empty() {
        lines.push(dnf_line(args, check, "install", &missing));
    }
    if (state == "latest" || update_only)
        && !installed.is_empty()
        && has_updates(args, ctx, &installed).await?
    {
        lines.push(dnf_line(args, check, "upgrade", &installed));
    }
    Ok((lines, notes))
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let names = listify(args, "name");
    let autoremove = arg_bool(args, "autoremove", false);
    let state = match arg_str(args, "state") {
        Some("installed" | "present") => "present",
        Some("removed" | "absent") => "absent",
        Some(other) => other,
        None if autoremove => "absent",
        None => "present",
    };
    check_args(args, &names, state)
        .map_err(|msg| TaskResult::failed(msg).with("results", json!([])))?;
    if arg_bool(args, "update_cache", false) {
        let line = format!("{} -q makecache --refresh", {
            let mut w = vec!["dnf".to_string()];
            w.extend(dnf_options(args));
            w.join(" ")
        });
        let out = exec(ctx, &line).await?;
        if out.rc != 0 {
            return Err(TaskResult::failed(format!(
                "Failed to synchronize repodata: {}",
                text(&out.stderr).trim()
            ))
            .with("rc", 1)
            .with("results", json!([])));
        }
        if names.is_empty() && !autoremove {
            return Ok(TaskResult::ok()
                .with_msg("Cache updated")
                .with("results", json!([]))
                .with("rc", 0));
        }
    }
    let before = snapshot(args, ctx).await?;
    let (lines, notes) = plan(args, ctx, &names, state, &before).await?;
    let mut planned = Vec::new();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    for line in &lines {
        let out = exec(ctx, line).await?;
        let (o, e) = (text(&out.stdout), text(&out.stderr));
        // `--assumeno` ends every transaction it shows with exit 1.
        let declined = ctx.check_mode && out.rc == 1 && e.contains("Operation aborted");
        if out.rc != 0 && !declined {
            return Err(dnf_failure(out.rc, &o, &e));
        }
        planned.extend(parse_transaction(&o));
        stdout.push_str(&o);
        stderr.push_str(&e);
    }
    let download_only = arg_bool(args, "download_only", false);
    let after = if ctx.check_mode || download_only {
        apply(&before, &planned)
    } else if lines.is_empty() {
        before.clone()
    } else {
        snapshot(args, ctx).await?
    };
    let verb = if download_only {
        "Downloaded"
    } else {
        "Installed"
    };
    let mut lines_out = notes;
    let done = results(&before, &after, verb);
    let changed = !done.is_empty();
    lines_out.extend(done);
    let packages = if download_only {
        Map::new()
    } else {
        changes(&before, &after)
    };
    let msg = match (changed, ctx.check_mode) {
        (false, _) => "Nothing to do",
        (true, true) => "Check mode: No changes made, but would have if not in check mode",
        (true, false) => "",
    };
    let result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    let mut result = result
        .with_msg(msg)
        .with("rc", 0)
        .with("results", json!(lines_out))
        .with("packages", Json::Object(packages));
    if !lines.is_empty() {
        result = result.with("stdout", stdout).with("stderr", stderr);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;

    #[test]
    fn every_option_becomes_a_quoted_dnf_flag() {
        let a = args(json!({
            "conf_file": "/etc/my dnf.conf", "installroot": "/mnt/root", "releasever": 9,
            "enablerepo": ["epel"], "disablerepo": "*,other", "exclude": ["kernel*"],
            "disable_gpg_check": true, "nobest": true, "skip_broken": true,
            "install_weak_deps": false, "security": true, "download_only": true,
            "download_dir": "/tmp/d"
        }));
        assert_eq!(
            dnf_line(&a, false, "install", &["nginx".into(), "a b;c".into()]),
            "dnf '--config=/etc/my dnf.conf' --installroot=/mnt/root --releasever=9 \
             '--disablerepo=*' --disablerepo=other --enablerepo=epel '--exclude=kernel*' \
             --nogpgcheck --nobest --skip-broken --setopt=install_weak_deps=False -y \
             --downloadonly --downloaddir=/tmp/d install -- nginx 'a b;c'"
        );
        assert!(dnf_line(&a, false, "upgrade", &[]).contains(" -y --security --downloadonly"));
        let plain = args(json!({}));
        assert_eq!(
            dnf_line(&plain, true, "remove", &["x".into()]),
            "dnf --assumeno remove -- x"
        );
        assert_eq!(dnf_line(&plain, false, "upgrade", &[]), "dnf -y upgrade");
        assert_eq!(
            check_update_line(&args(json!({"bugfix": true})), &["a".into()]),
            "dnf -q --bugfix check-update -- a"
        );
        assert_eq!(
            snapshot_line(&args(json!({"installroot": "/r"}))),
            format!("rpm --root /r -qa --qf {}", shell_quote(parse::RPM_QF))
        );
        assert!(
            installed_specs_line(&plain, &["it's".into()]).starts_with("for s in 'it'\\''s'; do")
        );
    }

    #[test]
    fn the_recorded_commands_are_the_ones_built() {
        // tests/bed/dnf-record ran these very lines (with its own
        // config, root and reposdir options in front).
        let recorded = |step: &str| {
            let path = format!(
                "{}/tests/fixtures/dnf/{step}.cmd",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read_to_string(path).unwrap()
        };
        assert!(
            recorded("install")
                .trim_end()
                .ends_with("-y install rollout-hello-1.0 rollout-lib-1.0")
        );
        assert!(recorded("check-update-security").contains("-q --security check-update"));
    }

    #[test]
    fn an_older_spec_is_left_alone_when_newer_is_installed() {
        let snap = parse_snapshot("rollout-hello\t1.1-1\tnoarch\nfoo-bar\t2:1.0-1\tx86_64\n");
        assert!(newer_installed(&snap, "rollout-hello-1.0"));
        assert!(newer_installed(&snap, "rollout-hello-1.0-1.noarch"));
        assert!(!newer_installed(&snap, "rollout-hello-1.2"));
        assert!(!newer_installed(&snap, "rollout-hello"));
        assert!(newer_installed(&snap, "foo-bar-1.5"));
        assert!(!newer_installed(&snap, "foo-bar-3:1.0"));
    }

    #[test]
    fn bad_arguments_fail_with_ansibles_messages() {
        let none = args(json!({}));
        assert!(
            check_args(&none, &["a b".into()], "present")
                .unwrap_err()
                .contains("space separated")
        );
        assert!(check_args(&none, &["a >= 1".into()], "present").is_ok());
        assert!(
            check_args(&args(json!({"autoremove": true})), &[], "present")
                .unwrap_err()
                .contains("Autoremove should be used alone")
        );
        assert!(
            check_args(&none, &["*".into()], "present")
                .unwrap_err()
                .contains("state=latest")
        );
        assert!(check_args(&none, &["*".into()], "latest").is_ok());
        assert!(
            check_args(&args(json!({"use_backend": "dnf5"})), &[], "present")
                .unwrap_err()
                .contains("dnf5")
        );
    }

    #[test]
    fn failures_name_the_missing_packages() {
        let dir = format!("{}/tests/fixtures/dnf", env!("CARGO_MANIFEST_DIR"));
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        let r = dnf_failure(
            1,
            &read("install-unknown.stdout"),
            &read("install-unknown.stderr"),
        );
        assert_eq!(
            r.msg.as_deref(),
            Some("Failed to install some of the specified packages")
        );
        assert_eq!(
            r.data["failures"],
            json!(["No package rollout-nosuch available."])
        );
        let other = dnf_failure(1, "", "Error: Cannot download repomd.xml\n");
        assert_eq!(
            other.msg.as_deref(),
            Some("Unknown Error occurred: Cannot download repomd.xml")
        );
    }

    /// A host that answers each command with a RECORDED output of a real
    /// dnf/rpm run (tests/fixtures/dnf): the first rule whose text the
    /// command contains names the step; `rpm -qa` answers the snapshots
    /// in turn. Every command is kept.
    struct Replay {
        rules: Vec<(&'static str, &'static str)>,
        snapshots: std::sync::Mutex<Vec<&'static str>>,
        seen: std::sync::Mutex<Vec<String>>,
    }

    fn recorded(step: &str, ext: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/dnf/{step}.{ext}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[async_trait::async_trait]
    impl crate::connection::Connection for Replay {
        async fn exec(
            &self,
            cmd: &str,
            _: Option<&[u8]>,
        ) -> Result<ExecOutput, crate::connection::ConnectionError> {
            self.seen.lock().unwrap().push(cmd.to_string());
            let step = if cmd.contains(" -qa --qf ") {
                let mut snaps = self.snapshots.lock().unwrap();
                if snaps.len() > 1 {
                    snaps.remove(0)
                } else {
                    snaps[0]
                }
            } else {
                self.rules
                    .iter()
                    .find(|(text, _)| cmd.contains(text))
                    .map_or("", |(_, step)| step)
            };
            if let Some(printed) = step.strip_prefix("print:") {
                return Ok(ExecOutput {
                    stdout: printed.as_bytes().to_vec(),
                    ..Default::default()
                });
            }
            Ok(ExecOutput {
                rc: recorded(step, "rc").trim().parse().unwrap_or(0),
                stdout: recorded(step, "stdout").into_bytes(),
                stderr: recorded(step, "stderr").into_bytes(),
                ..Default::default()
            })
        }
    }

    async fn replay(
        check_mode: bool,
        a: Json,
        snapshots: Vec<&'static str>,
        rules: Vec<(&'static str, &'static str)>,
    ) -> (TaskResult, Vec<String>) {
        let host = Replay {
            rules,
            snapshots: std::sync::Mutex::new(snapshots),
            seen: std::sync::Mutex::new(vec![]),
        };
        let (templar, scope) = (crate::template::Templar::new(), minijinja::Value::default());
        let ctx = ModuleContext {
            host: "h",
            conn: &host,
            templar: &templar,
            scope: &scope,
            check_mode,
            diff: false,
            verbosity: 0,
            base_dir: std::path::Path::new("/nonexistent"),
            role_dir: None,
        };
        let result = run(&args(a), &ctx).await;
        let seen = host.seen.lock().unwrap().clone();
        (result, seen)
    }

    #[tokio::test]
    async fn latest_in_check_mode_from_recorded_runs() {
        let (r, seen) = replay(
            true,
            json!({"name": ["rollout-hello"], "state": "latest"}),
            vec!["rpm-qa-installed"],
            vec![
                ("for s in", "print:rollout-hello\n"),
                ("check-update", "check-update"),
                ("--assumeno upgrade", "upgrade-assumeno"),
            ],
        )
        .await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(
            r.msg.as_deref(),
            Some("Check mode: No changes made, but would have if not in check mode")
        );
        assert_eq!(
            r.data["packages"]["rollout-lib"],
            json!({"before": "1.0-1", "after": "1.1-1"})
        );
        assert_eq!(
            r.data["results"][0],
            "Installed: rollout-hello-1.1-1.noarch"
        );
        assert!(seen.iter().all(|c| !c.contains(" -y ")), "{seen:?}");
    }

    #[tokio::test]
    async fn install_then_nothing_to_do_from_recorded_runs() {
        let (r, seen) = replay(
            false,
            json!({"name": ["rollout-hello-1.0", "rollout-lib-1.0"]}),
            vec!["rpm-qa-empty", "rpm-qa-installed"],
            vec![("for s in", "print:"), ("-y install", "install")],
        )
        .await;
        assert!(r.changed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some(""));
        assert_eq!(
            r.data["packages"]["rollout-hello"],
            json!({"before": null, "after": "1.0-1"})
        );
        assert!(
            seen.iter()
                .any(|c| c.ends_with("-y install -- rollout-hello-1.0 rollout-lib-1.0"))
        );
        // Installed already: rpm -q says so, and no dnf line runs.
        let (r, seen) = replay(
            false,
            json!({"name": ["rollout-hello-1.0"]}),
            vec!["rpm-qa-installed"],
            vec![("for s in", "print:rollout-hello-1.0\n")],
        )
        .await;
        assert!(!r.changed && !r.failed, "{r:?}");
        assert_eq!(r.msg.as_deref(), Some("Nothing to do"));
        assert!(seen.iter().all(|c| !c.contains("dnf ")), "{seen:?}");
        // Latest with nothing newer: check-update exits 0, no upgrade.
        let (r, seen) = replay(
            false,
            json!({"name": "*", "state": "latest"}),
            vec!["rpm-qa-upgraded"],
            vec![("check-update", "check-update-none")],
        )
        .await;
        assert!(!r.changed, "{r:?}");
        assert!(seen.iter().all(|c| !c.contains("upgrade")), "{seen:?}");
    }

    #[tokio::test]
    async fn an_unknown_package_fails_from_recorded_runs() {
        let (r, _) = replay(
            false,
            json!({"name": ["rollout-nosuch"]}),
            vec!["rpm-qa-empty"],
            vec![("for s in", "print:"), ("-y install", "install-unknown")],
        )
        .await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.data["failures"],
            json!(["No package rollout-nosuch available."])
        );
    }
}
