//! `systemd` / `systemd_service`: a unit's state, enablement and mask under
//! systemd, with ansible-core's semantics (`systemd_service.py`): the same
//! order (daemon-reload, daemon-reexec, mask/unmask, enable/disable, then
//! the state), the same decisions from `systemctl show` and
//! `systemctl is-enabled`, the same `status` dictionary and error words.
//! Only `systemctl` and a POSIX shell run on the host.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::connection::ExecOutput;
use crate::core::shell_quote;
use serde_json::{Map, Value as Json};

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "systemd",
        &[
            aliases(p("name", Kind::Str), &["service", "unit"]),
            choices(
                p("state", Kind::Str),
                &["reloaded", "restarted", "started", "stopped"],
            ),
            p("enabled", Kind::Bool),
            p("force", Kind::Bool),
            p("masked", Kind::Bool),
            aliases(p("daemon_reload", Kind::Bool), &["daemon-reload"]),
            aliases(p("daemon_reexec", Kind::Bool), &["daemon-reexec"]),
            choices(p("scope", Kind::Str), &["system", "user", "global"]),
            p("no_block", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// `systemd_service` is `systemd` under its newer name.
pub const SYSTEMD_SERVICE: Module = MODULE.named("systemd_service");

/// The task's arguments, checked as Ansible checks them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub name: Option<String>,
    pub state: Option<String>,
    pub enabled: Option<bool>,
    pub masked: Option<bool>,
    pub daemon_reload: bool,
    pub daemon_reexec: bool,
    pub scope: String,
    pub no_block: bool,
    pub force: bool,
}

impl Options {
    pub fn from_args(args: &Vars) -> Result<Options, String> {
        let opts = Options {
            name: arg_str(args, "name").map(str::to_string),
            state: arg_str(args, "state").map(str::to_string),
            enabled: args.get("enabled").and_then(Json::as_bool),
            masked: args.get("masked").and_then(Json::as_bool),
            daemon_reload: arg_bool(args, "daemon_reload", false),
            daemon_reexec: arg_bool(args, "daemon_reexec", false),
            scope: arg_str(args, "scope").unwrap_or("system").to_string(),
            no_block: arg_bool(args, "no_block", false),
            force: arg_bool(args, "force", false),
        };
        // Ansible's `required_by`: each of these needs a unit to act on.
        // (Its `required_one_of` always passes: daemon_reload's default
        // counts, so a bare `name` just reports the unit's status.)
        for (key, given) in [
            ("state", opts.state.is_some()),
            ("enabled", opts.enabled.is_some()),
            ("masked", opts.masked.is_some()),
        ] {
            if given && opts.name.is_none() {
                return Err(format!("missing parameter(s) required by '{key}': name"));
            }
        }
        if let Some(name) = &opts.name
            && let Some(glob) = ["*", "?", "["].iter().find(|g| name.contains(**g))
        {
            return Err(format!(
                "This module does not currently support using glob patterns, found '{glob}' in service name: {name}"
            ));
        }
        Ok(opts)
    }

    /// `systemctl` with the scope and flags every call carries, as Ansible
    /// builds it; a user or global scope finds the user's manager through
    /// XDG_RUNTIME_DIR, set as Ansible sets it when the session has none.
    pub fn systemctl(&self) -> String {
        let mut line = String::new();
        if self.scope != "system" {
            line.push_str(
                "XDG_RUNTIME_DIR=\"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}\" systemctl --",
            );
            line.push_str(&self.scope);
        } else {
            line.push_str("systemctl");
        }
        if self.no_block {
            line.push_str(" --no-block");
        }
        if self.force {
            line.push_str(" --force");
        }
        line
    }

    /// `systemctl ACTION 'NAME'`.
    fn unit_command(&self, action: &str, name: &str) -> String {
        format!("{} {action} {}", self.systemctl(), shell_quote(name))
    }
}

/// Ansible's `parse_systemctl_show`: `Key=value` lines into a map; only
/// `Exec*` values that open with `{` may span several lines.
pub fn parse_show(text: &str) -> Map<String, Json> {
    let mut parsed = Map::new();
    let mut multival: Vec<&str> = Vec::new();
    let mut key: Option<&str> = None;
    for line in text.split('\n') {
        match key {
            None => {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                if k.starts_with("Exec")
                    && v.trim_start().starts_with('{')
                    && !v.trim_end().ends_with('}')
                {
                    key = Some(k);
                    multival.push(v);
                    continue;
                }
                parsed.insert(k.to_string(), Json::String(v.trim().to_string()));
            }
            Some(k) => {
                multival.push(line);
                if line.trim_end().ends_with('}') {
                    parsed.insert(
                        k.to_string(),
                        Json::String(multival.join("\n").trim().to_string()),
                    );
                    multival.clear();
                    key = None;
                }
            }
        }
    }
    parsed
}

/// Ansible's `request_was_ignored`: systemctl refused the request (as in
/// a chroot) rather than answering it.
fn request_was_ignored(out: &str) -> bool {
    !out.contains('=') && (out.contains("ignoring request") || out.contains("ignoring command"))
}

/// `systemctl is-enabled` states that mean systemd knows the unit.
const KNOWN_ENABLED_STATES: [&str; 11] = [
    "enabled",
    "enabled-runtime",
    "linked",
    "linked-runtime",
    "masked",
    "masked-runtime",
    "static",
    "indirect",
    "disabled",
    "generated",
    "transient",
];

/// What one round trip learns about the host and the unit before anything
/// changes: whether systemctl exists (else `$PATH`), whether this is a
/// chroot or systemd is offline (failures there are warnings), the unit's
/// `is-enabled` answer, its init script and SysV start links, and whether
/// `list-unit-files` knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub systemctl: bool,
    pub path: String,
    pub offline: bool,
    pub is_enabled_rc: i32,
    /// `is-enabled`'s answer (one word).
    pub is_enabled: String,
    /// `is-enabled -l`'s (the word, then the install targets), whose exit
    /// status is `is_enabled_rc`.
    pub is_enabled_full: String,
    pub initd: bool,
    pub sysv_enabled: bool,
    pub unit_file_listed: bool,
}

/// The shell line that prints [`HostFacts`]: a header line
/// `rollout-systemd SYSTEMCTL OFFLINE IS_ENABLED_RC INITD SYSV LISTED`,
/// `$PATH`, `is-enabled`'s word, then `is-enabled -l`'s output.
pub fn facts_command(opts: &Options) -> String {
    // Ansible's is_chroot: `debian_chroot` set, or / is not PID 1's root
    // (when /proc/1/root cannot be read: / is not the file system's root
    // inode).
    let offline = "o=0; if [ \"${SYSTEMD_OFFLINE:-}\" = 1 ] || [ -n \"${debian_chroot:-}\" ]; then o=1; \
         elif r1=$(stat -Lc %d:%i /proc/1/root/. 2>/dev/null); then [ \"$(stat -c %d:%i /)\" = \"$r1\" ] || o=1; \
         else case $(stat -f -c %T / 2>/dev/null) in btrfs) w=256;; xfs) w=128;; *) w=2;; esac; \
           [ \"$(stat -c %i /)\" = \"$w\" ] || o=1; fi";
    let unit = match &opts.name {
        Some(name) => {
            let q = shell_quote(name);
            // Ansible's sysv_exists / sysv_is_enabled.
            let script = shell_quote(&if name.starts_with('/') {
                name.clone()
            } else {
                format!("/etc/init.d/{name}")
            });
            format!(
                "e=$({sc} is-enabled {q} 2>/dev/null); el=$({sc} is-enabled {q} -l 2>/dev/null); r=$?; \
                 i=0; [ -e {script} ] && i=1; \
                 d='/etc/rc?.d'; [ -d /etc/rc0.d ] || d=/etc/init.d/rc?.d; \
                 s=0; for f in $d/S??{q}; do [ -e \"$f\" ] && s=1; done; \
                 l=0; {sc} list-unit-files {q} >/dev/null 2>&1 && l=1; ",
                sc = opts.systemctl(),
            )
        }
        None => "e=; el=; r=1; i=0; s=0; l=0; ".to_string(),
    };
    format!(
        "export LC_ALL=C; if ! command -v systemctl >/dev/null 2>&1; then \
           printf 'rollout-systemd 0 0 1 0 0 0\\n%s\\n' \"$PATH\"; exit 0; fi; \
         {offline}; {unit}\
         printf 'rollout-systemd 1 %s %s %s %s %s\\n%s\\n%s\\n%s\\n' \"$o\" \"$r\" \"$i\" \"$s\" \"$l\" \"$PATH\" \"$e\" \"$el\""
    )
}

pub fn parse_facts(stdout: &str) -> Result<HostFacts, String> {
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let [
        "rollout-systemd",
        systemctl,
        offline,
        rc,
        initd,
        sysv,
        listed,
    ] = header[..]
    else {
        return Err(format!(
            "could not read the host's systemd facts from: {}",
            stdout.trim()
        ));
    };
    Ok(HostFacts {
        systemctl: systemctl == "1",
        offline: offline == "1",
        is_enabled_rc: rc.parse().unwrap_or(1),
        initd: initd == "1",
        sysv_enabled: sysv == "1",
        unit_file_listed: listed == "1",
        path: lines.next().unwrap_or_default().to_string(),
        is_enabled: lines.next().unwrap_or_default().trim().to_string(),
        is_enabled_full: lines.collect::<Vec<_>>().join("\n").trim_end().to_string(),
    })
}

/// What `systemctl show` said about the unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shown {
    pub status: Map<String, Json>,
    pub is_systemd: bool,
    /// Nothing answered (show, is-enabled, list-unit-files): Ansible then
    /// runs bare `systemctl` and fails with its error, if it has one.
    pub ask_systemctl: bool,
}

/// Ansible's reading of `systemctl show`'s answer (rc, stdout, stderr),
/// with the facts for when show could not answer; Err for a unit file
/// systemd could not load.
pub fn read_show(
    name: &str,
    rc: i32,
    out: &str,
    err: &str,
    facts: &HostFacts,
) -> Result<Shown, String> {
    let mut shown = Shown::default();
    if rc == 0 && !(request_was_ignored(out) || request_was_ignored(err)) {
        if !out.is_empty() {
            shown.status = parse_show(out);
            let load = shown.status.get("LoadState").and_then(Json::as_str);
            shown.is_systemd = load.is_some_and(|s| s != "not-found");
            if shown.is_systemd
                && load != Some("masked")
                && let Some(error) = shown.status.get("LoadError").and_then(Json::as_str)
            {
                return Err(format!("Error loading unit file '{name}': {error}"));
            }
        }
    } else if KNOWN_ENABLED_STATES.contains(&facts.is_enabled.as_str()) {
        shown.is_systemd = true;
    } else {
        // Ansible's fallback where show does not work (a chroot).
        shown.is_systemd = facts.unit_file_listed;
        shown.ask_systemctl = !facts.unit_file_listed;
    }
    Ok(shown)
}

/// Ansible's reading of `is-enabled -l` for `enabled`: whether the unit
/// counts as enabled now.
pub fn currently_enabled(opts: &Options, facts: &HostFacts) -> bool {
    match facts.is_enabled_rc {
        // Runtime-only, indirect or alias: let systemctl enable it for good.
        0 => !matches!(
            facts.is_enabled_full.as_str(),
            "enabled-runtime" | "indirect" | "alias"
        ),
        1 => {
            opts.scope == "system"
                && facts.initd
                && !facts.is_enabled_full.trim().ends_with("disabled")
                && facts.sysv_enabled
        }
        _ => false,
    }
}

/// The action a `state` needs given `ActiveState` (None: nothing to do).
pub fn state_action(state: &str, active_state: &str) -> Option<&'static str> {
    let running = matches!(active_state, "active" | "activating");
    match state {
        "started" if !running => Some("start"),
        "stopped" if running || active_state == "deactivating" => Some("stop"),
        "started" | "stopped" => None,
        _ if !running => Some("start"),
        "restarted" => Some("restart"),
        _ => Some("reload"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a line (the connection exports the task's `environment:` first,
/// as Ansible gives it to the module: SYSTEMD_OFFLINE, XDG_RUNTIME_DIR).
async fn exec(ctx: &ModuleContext<'_>, line: &str) -> Result<ExecOutput, TaskResult> {
    ctx.conn
        .exec(line, None)
        .await
        .map_err(TaskResult::from_connection)
}

async fn host_facts(ctx: &ModuleContext<'_>, opts: &Options) -> Result<HostFacts, TaskResult> {
    let out = exec(ctx, &facts_command(opts)).await?;
    parse_facts(&text(&out.stdout)).map_err(TaskResult::failed)
}

/// One task's run: the result so far and its warnings. A failure says
/// only why, as Ansible's `fail_json(msg=...)` (not the result so far).
struct Run<'a> {
    ctx: &'a ModuleContext<'a>,
    opts: &'a Options,
    result: TaskResult,
    warnings: Vec<String>,
}

impl Run<'_> {
    /// `daemon-reload` / `daemon-reexec`: failures in a chroot or with
    /// systemd offline are warnings, as Ansible has them.
    async fn daemon(&mut self, verb: &str, facts: &HostFacts) -> Result<(), TaskResult> {
        let out = exec(self.ctx, &format!("{} {verb}", self.opts.systemctl())).await?;
        if out.rc == 0 {
            return Ok(());
        }
        let err = text(&out.stderr);
        if facts.offline {
            self.warnings.push(format!(
                "{verb} failed, but target is a chroot or systemd is offline. Continuing. Error was: {} / {err}",
                out.rc
            ));
            Ok(())
        } else {
            Err(TaskResult::failed(format!(
                "failure {} during {verb}: {err}",
                out.rc
            )))
        }
    }

    /// Runs `systemctl ACTION NAME` unless in check mode.
    async fn act(&self, action: &str, name: &str) -> Result<Option<ExecOutput>, TaskResult> {
        if self.ctx.check_mode {
            return Ok(None);
        }
        exec(self.ctx, &self.opts.unit_command(action, name))
            .await
            .map(Some)
    }
}

fn missing(name: &str) -> String {
    format!("Could not find the requested service {name}: host")
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let opts = match Options::from_args(args) {
        Ok(opts) => opts,
        Err(msg) => return TaskResult::failed(msg),
    };
    let mut run = Run {
        ctx,
        opts: &opts,
        result: TaskResult::ok()
            .with("name", opts.name.clone())
            .with("status", Json::Object(Map::new())),
        warnings: Vec::new(),
    };
    match drive(&mut run).await {
        Ok(()) => {
            let mut result = run.result;
            if !run.warnings.is_empty() {
                result = result.with("warnings", run.warnings);
            }
            result
        }
        Err(failed) => failed,
    }
}

async fn drive(run: &mut Run<'_>) -> Result<(), TaskResult> {
    let opts = run.opts;
    let mut facts = host_facts(run.ctx, opts).await?;
    if !facts.systemctl {
        return Err(TaskResult::failed(format!(
            "Failed to find required executable \"systemctl\" in paths: {}",
            facts.path
        )));
    }
    let check = run.ctx.check_mode;
    if opts.daemon_reload && !check {
        run.daemon("daemon-reload", &facts).await?;
    }
    if opts.daemon_reexec && !check {
        run.daemon("daemon-reexec", &facts).await?;
    }
    let Some(name) = opts.name.as_deref() else {
        return Ok(());
    };

    let show = exec(run.ctx, &run.opts.unit_command("show", name)).await?;
    let shown = read_show(
        name,
        show.rc,
        &text(&show.stdout),
        &text(&show.stderr),
        &facts,
    )
    .map_err(TaskResult::failed)?;
    if shown.ask_systemctl {
        // No manager to ask (a user scope without a session): its error.
        let line = opts.systemctl();
        let out = exec(run.ctx, &line).await?;
        if out.rc != 0 {
            let stderr = text(&out.stderr);
            return Err(TaskResult::failed(stderr.trim_end())
                .with("cmd", line)
                .with("rc", out.rc)
                .with("stdout", text(&out.stdout))
                .with("stderr", stderr));
        }
    }
    let status = shown.status;
    run.result = std::mem::take(&mut run.result).with("status", Json::Object(status.clone()));
    let found = shown.is_systemd || facts.initd;
    if facts.initd && !shown.is_systemd {
        run.warnings.push(format!(
            "The service ({name}) is actually an init script but the system is managed by systemd"
        ));
    }

    // Mask or unmask first: it works on units not installed yet.
    if let Some(want) = opts.masked {
        let masked = facts.is_enabled == "masked";
        if masked != want {
            run.result.changed = true;
            let action = if want { "mask" } else { "unmask" };
            if let Some(out) = run.act(action, name).await? {
                if out.rc != 0 {
                    if !found {
                        return Err(TaskResult::failed(missing(name)));
                    }
                    return Err(TaskResult::failed(format!(
                        "Failed to {action} the service ({name}): {}",
                        text(&out.stderr).trim()
                    )));
                }
                // What is-enabled says now decides `enabled`.
                facts = host_facts(run.ctx, opts).await?;
            }
        }
    }

    if let Some(want) = opts.enabled {
        if !found {
            return Err(TaskResult::failed(missing(name)));
        }
        let enabled = currently_enabled(opts, &facts);
        run.result = std::mem::take(&mut run.result).with("enabled", enabled);
        if enabled != want {
            run.result.changed = true;
            let action = if want { "enable" } else { "disable" };
            if let Some(out) = run.act(action, name).await?
                && out.rc != 0
            {
                return Err(TaskResult::failed(format!(
                    "Unable to {action} service {name}: {}{}",
                    text(&out.stdout),
                    text(&out.stderr)
                )));
            }
            run.result = std::mem::take(&mut run.result).with("enabled", want);
        }
    }

    if let Some(state) = opts.state.as_deref() {
        if !found {
            return Err(TaskResult::failed(missing(name)));
        }
        let shown_state = if matches!(state, "started" | "stopped") {
            state
        } else {
            "started"
        };
        match status.get("ActiveState").and_then(Json::as_str) {
            Some(active) => {
                run.result = std::mem::take(&mut run.result).with("state", shown_state);
                if let Some(action) = state_action(state, active) {
                    run.result.changed = true;
                    if let Some(out) = run.act(action, name).await?
                        && out.rc != 0
                    {
                        return Err(TaskResult::failed(format!(
                            "Unable to {action} service {name}: {}",
                            text(&out.stderr)
                        )));
                    }
                }
            }
            None if facts.offline => {
                run.result = std::mem::take(&mut run.result).with("state", state);
                run.warnings.push(
                    "Target is a chroot or systemd is offline. This can lead to false positives \
                     or prevent the init system tools from working."
                        .into(),
                );
            }
            None => {
                return Err(TaskResult::failed("Service is in unknown state")
                    .with("status", Json::Object(status)));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Json) -> Vars {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn arguments_are_checked_as_ansible_checks_them() {
        let err = Options::from_args(&args(json!({"state": "started"}))).unwrap_err();
        assert_eq!(err, "missing parameter(s) required by 'state': name");
        let err = Options::from_args(&args(json!({"masked": true}))).unwrap_err();
        assert_eq!(err, "missing parameter(s) required by 'masked': name");
        let err =
            Options::from_args(&args(json!({"name": "web*", "state": "started"}))).unwrap_err();
        assert_eq!(
            err,
            "This module does not currently support using glob patterns, found '*' in service name: web*"
        );
        // A bare name, or daemon_reload alone, is a valid task.
        assert!(Options::from_args(&args(json!({"name": "cron"}))).is_ok());
        assert!(Options::from_args(&args(json!({"daemon_reload": true}))).is_ok());
    }

    #[test]
    fn systemctl_carries_scope_and_flags() {
        let mut opts = Options::from_args(&args(json!({"name": "web"}))).unwrap();
        assert_eq!(opts.unit_command("start", "a b"), "systemctl start 'a b'");
        opts.no_block = true;
        opts.force = true;
        assert_eq!(
            opts.unit_command("enable", "x;y"),
            "systemctl --no-block --force enable 'x;y'"
        );
        opts.scope = "user".into();
        opts.no_block = false;
        opts.force = false;
        assert_eq!(
            opts.unit_command("restart", "web"),
            "XDG_RUNTIME_DIR=\"${XDG_RUNTIME_DIR:-/run/user/$(id -u)}\" systemctl --user restart web"
        );
        opts.scope = "global".into();
        assert!(opts.systemctl().ends_with("systemctl --global"));
        let facts = facts_command(&opts);
        assert!(facts.contains("--global is-enabled web -l"), "{facts}");
    }

    #[test]
    fn show_output_is_parsed_as_ansible_parses_it() {
        let out = "Id=web.service\nDescription={ odd\nExecStart={ path=/bin/sh ; argv[]=/bin/sh -c\n  loop ; }\n\
                   ActiveState=active\nEmpty=\n";
        let parsed = parse_show(out);
        assert_eq!(
            parsed["Description"], "{ odd",
            "only Exec* values span lines"
        );
        assert_eq!(
            parsed["ExecStart"],
            "{ path=/bin/sh ; argv[]=/bin/sh -c\n  loop ; }"
        );
        assert_eq!(parsed["ActiveState"], "active");
        assert_eq!(parsed["Empty"], "");
    }

    fn facts(rc: i32, is_enabled: &str) -> HostFacts {
        HostFacts {
            systemctl: true,
            is_enabled_rc: rc,
            is_enabled: is_enabled.into(),
            is_enabled_full: is_enabled.into(),
            ..Default::default()
        }
    }

    #[test]
    fn show_decides_whether_systemd_knows_the_unit() {
        let f = facts(1, "");
        let gone = read_show("x", 0, "Id=x.service\nLoadState=not-found\n", "", &f).unwrap();
        assert!(!gone.is_systemd);
        let bad = read_show(
            "x",
            0,
            "LoadState=bad-setting\nLoadError=org.freedesktop.systemd1.BadUnitSetting \"bad\"\n",
            "",
            &f,
        );
        assert_eq!(
            bad.unwrap_err(),
            "Error loading unit file 'x': org.freedesktop.systemd1.BadUnitSetting \"bad\""
        );
        let masked = read_show("x", 0, "LoadState=masked\nLoadError=x\n", "", &f).unwrap();
        assert!(masked.is_systemd);
        // show failed (no manager): is-enabled, then list-unit-files decide.
        assert!(
            read_show("x", 1, "", "", &facts(1, "disabled"))
                .unwrap()
                .is_systemd
        );
        let unknown = read_show("x", 1, "", "", &facts(1, "")).unwrap();
        assert!(!unknown.is_systemd && unknown.ask_systemctl);
        let listed = HostFacts {
            unit_file_listed: true,
            ..facts(1, "")
        };
        assert!(read_show("x", 1, "", "", &listed).unwrap().is_systemd);
        assert!(
            !read_show("x", 0, "Running in chroot, ignoring request.", "", &f)
                .unwrap()
                .is_systemd
        );
    }

    #[test]
    fn enabled_is_read_as_ansible_reads_it() {
        let opts = Options {
            scope: "system".into(),
            ..Default::default()
        };
        assert!(currently_enabled(&opts, &facts(0, "enabled")));
        assert!(currently_enabled(&opts, &facts(0, "static")));
        assert!(!currently_enabled(&opts, &facts(0, "enabled-runtime")));
        assert!(!currently_enabled(&opts, &facts(0, "indirect")));
        assert!(!currently_enabled(&opts, &facts(1, "disabled")));
        let sysv = HostFacts {
            initd: true,
            sysv_enabled: true,
            ..facts(1, "")
        };
        assert!(currently_enabled(&opts, &sysv));
    }

    #[test]
    fn state_actions_follow_active_state() {
        assert_eq!(state_action("started", "inactive"), Some("start"));
        assert_eq!(state_action("started", "activating"), None);
        assert_eq!(state_action("stopped", "deactivating"), Some("stop"));
        assert_eq!(state_action("stopped", "failed"), None);
        assert_eq!(state_action("restarted", "active"), Some("restart"));
        assert_eq!(state_action("reloaded", "active"), Some("reload"));
        assert_eq!(state_action("reloaded", "inactive"), Some("start"));
    }

    #[test]
    fn facts_are_parsed() {
        let got = parse_facts(
            "rollout-systemd 1 0 0 1 1 0\n/usr/bin:/bin\nenabled\nenabled\n  /etc/x.wants/web.service\n",
        )
        .unwrap();
        assert_eq!(
            got,
            HostFacts {
                systemctl: true,
                path: "/usr/bin:/bin".into(),
                offline: false,
                is_enabled_rc: 0,
                is_enabled: "enabled".into(),
                is_enabled_full: "enabled\n  /etc/x.wants/web.service".into(),
                initd: true,
                sysv_enabled: true,
                unit_file_listed: false,
            }
        );
        assert!(
            !parse_facts("rollout-systemd 0 0 1 0 0 0\n/bin\n")
                .unwrap()
                .systemctl
        );
        assert!(parse_facts("garbage").is_err());
    }
}
