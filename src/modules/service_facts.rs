//! `service_facts`: the host's services as `ansible_facts.services`
//! (`{name: {name, state, status, source}}`), built as ansible-core builds
//! it: SysV scripts from `service --status-all` (where neither chkconfig
//! nor OpenRC is present), then systemd's units from `list-units` and
//! `list-unit-files`, where systemd manages the host. Upstart, chkconfig,
//! OpenRC and the BSDs are not read (a host with none of the supported
//! sources gets Ansible's "Failed to find any services").

use super::registry::Module;
use super::spec::ModuleSpec;
use super::{ModuleContext, TaskResult, Vars};
use crate::core::shell_quote;
use serde_json::{Map, Value as Json, json};

pub const MODULE: Module = Module::new(ModuleSpec::new("service_facts", &[]), |args, ctx| {
    Box::pin(run(args, ctx))
});

/// Every source in one round trip, each section opened by a `@@NAME` line
/// and closed by `@@rc RC`. Ansible's `is_systemd_managed` decides whether
/// systemd is asked.
const LIST: &str = "export LC_ALL=C; \
    if command -v service >/dev/null 2>&1 && ! command -v chkconfig >/dev/null 2>&1 \
       && ! command -v rc-status >/dev/null 2>&1; then \
      echo @@sysv; service --status-all 2>/dev/null; echo \"@@rc $?\"; fi; \
    if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] \
       || [ -e /dev/.systemd/ ] || [ \"$(cat /proc/1/comm 2>/dev/null)\" = systemd ]; }; then \
      echo @@units; systemctl list-units --no-pager --type service --all --plain 2>/dev/null; echo \"@@rc $?\"; \
      echo @@files; systemctl list-unit-files --no-pager --type service --all 2>/dev/null; echo \"@@rc $?\"; fi";

/// The sections of [`LIST`]'s output: name, lines, exit status.
fn sections(stdout: &str) -> Vec<(&str, Vec<&str>, i32)> {
    let mut out = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(rc) = line.strip_prefix("@@rc ") {
            if let Some((name, lines)) = current.take() {
                out.push((name, lines, rc.trim().parse().unwrap_or(1)));
            }
        } else if let Some(name) = line.strip_prefix("@@") {
            current = Some((name, Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    out
}

/// `service --status-all` lines: `[ + ]  name` running, `[ - ]` stopped.
pub fn parse_sysv(lines: &[&str], services: &mut Map<String, Json>) {
    for line in lines {
        let Some(rest) = line.trim_start().strip_prefix("[ ") else {
            continue;
        };
        let (state, name) = match rest.split_at_checked(1) {
            Some(("+", name)) => ("running", name),
            Some(("-", name)) => ("stopped", name),
            _ => continue,
        };
        let Some(name) = name.strip_prefix(" ]") else {
            continue;
        };
        let name = name.trim_start();
        if name.is_empty() {
            continue;
        }
        services.insert(
            name.into(),
            json!({"name": name, "state": state, "source": "sysv"}),
        );
    }
}

/// States that win over what a unit's columns say.
const BAD_STATES: [&str; 3] = ["not-found", "masked", "failed"];

/// `systemctl list-units --plain` lines, as Ansible reads them.
pub fn parse_units(lines: &[&str], services: &mut Map<String, Json>) {
    for line in lines.iter().filter(|l| l.contains(".service")) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        // Any column but the description's last word may hold a bad state.
        let status = BAD_STATES
            .iter()
            .find(|bad| fields[..fields.len() - 1].contains(bad))
            .copied()
            .unwrap_or(fields[2]);
        let state = if fields[3] == "running" {
            "running"
        } else {
            "stopped"
        };
        services.insert(
            fields[0].into(),
            json!({"name": fields[0], "state": state, "status": status, "source": "systemd"}),
        );
    }
}

/// `systemctl list-unit-files` lines: the final `status` of listed units,
/// and the unit files `list-units` did not show (whose state is asked
/// separately, returned here).
pub fn parse_unit_files(
    lines: &[&str],
    services: &mut Map<String, Json>,
) -> Result<Vec<String>, String> {
    let mut unlisted = Vec::new();
    for line in lines.iter().filter(|l| l.contains(".service")) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(status)) = (words.next(), words.next()) else {
            return Err(format!(
                "Malformed output discovered from systemd list-unit-files: {line}"
            ));
        };
        match services.get_mut(name) {
            None => {
                services.insert(
                    name.into(),
                    json!({"name": name, "state": "unknown", "status": status, "source": "systemd"}),
                );
                unlisted.push(name.to_string());
            }
            Some(entry) => {
                let bad = entry["status"]
                    .as_str()
                    .is_some_and(|s| BAD_STATES.contains(&s));
                if !bad {
                    entry["status"] = json!(status);
                }
            }
        }
    }
    Ok(unlisted)
}

/// One `systemctl show UNIT --property=ActiveState` per unlisted unit file,
/// in one round trip: `NAME<TAB>VALUE` lines (empty where show failed).
fn active_states_command(units: &[String]) -> String {
    let names: Vec<String> = units.iter().map(|u| shell_quote(u)).collect();
    format!(
        "export LC_ALL=C; for u in {}; do printf '%s\\t%s\\n' \"$u\" \
         \"$(systemctl show \"$u\" --property=ActiveState 2>/dev/null)\"; done",
        names.join(" ")
    )
}

/// Fills in the `state` of units from [`active_states_command`]'s output.
pub fn apply_active_states(stdout: &str, services: &mut Map<String, Json>) {
    for line in stdout.lines() {
        let Some((name, value)) = line.split_once('\t') else {
            continue;
        };
        let state = value.trim_end().replace("ActiveState=", "");
        if let Some(entry) = services.get_mut(name)
            && !state.is_empty()
        {
            entry["state"] = json!(state);
        }
    }
}

pub async fn run(_args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let out = match ctx.conn.exec(LIST, None).await {
        Ok(out) => out,
        Err(e) => return TaskResult::from_connection(e),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut services = Map::new();
    let mut warnings = Vec::new();
    let mut unlisted = Vec::new();
    for (name, lines, rc) in sections(&stdout) {
        match name {
            "sysv" => {
                if rc != 0 {
                    warnings.push(format!("Unable to query 'service' tool ({rc})"));
                }
                parse_sysv(&lines, &mut services);
            }
            "units" if rc != 0 => warnings.push("Could not list units from systemd".into()),
            "units" => parse_units(&lines, &mut services),
            "files" if rc != 0 => {
                warnings.push("Could not get unit files data from systemd".into())
            }
            "files" => match parse_unit_files(&lines, &mut services) {
                Ok(names) => unlisted = names,
                Err(msg) => return TaskResult::failed(msg),
            },
            _ => {}
        }
    }
    if !unlisted.is_empty() {
        match ctx.conn.exec(&active_states_command(&unlisted), None).await {
            Ok(out) => apply_active_states(&String::from_utf8_lossy(&out.stdout), &mut services),
            Err(e) => return TaskResult::from_connection(e),
        }
    }
    let mut result = if services.is_empty() {
        TaskResult::skipped("no services").with_msg(
            "Failed to find any services. This can be due to privileges or some other configuration issue.",
        )
    } else {
        TaskResult::ok().with("ansible_facts", json!({ "services": services }))
    };
    if !warnings.is_empty() {
        result = result.with("warnings", warnings);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_lines() {
        let mut services = Map::new();
        parse_sysv(
            &[
                " [ + ]  cron",
                " [ - ]  procps",
                " [ ? ]  hwclock.sh",
                "noise",
            ],
            &mut services,
        );
        assert_eq!(
            services["cron"],
            json!({"name": "cron", "state": "running", "source": "sysv"})
        );
        assert_eq!(services["procps"]["state"], "stopped");
        assert_eq!(services.len(), 2);
    }

    /// Real output of systemd 252 (Debian bookworm) in the test root.
    const UNITS: &str = "\
cron.service                   loaded    active   running Regular background program processing daemon
rollout-web.service            loaded    inactive dead    rollout test service
gone.service                   not-found inactive dead    gone.service
broken.service                 loaded    failed   failed  Broken service";
    const FILES: &str = "\
UNIT FILE                              STATE           PRESET
cron.service                           enabled         enabled
getty@.service                         enabled         enabled
rollout-web.service                    disabled        enabled
broken.service                         enabled         enabled

4 unit files listed.";

    #[test]
    fn systemd_units_then_unit_files() {
        let mut services = Map::new();
        parse_units(&UNITS.lines().collect::<Vec<_>>(), &mut services);
        assert_eq!(
            services["cron.service"],
            json!({"name": "cron.service", "state": "running", "status": "active", "source": "systemd"})
        );
        assert_eq!(services["gone.service"]["status"], "not-found");
        assert_eq!(services["broken.service"]["status"], "failed");
        let unlisted = parse_unit_files(&FILES.lines().collect::<Vec<_>>(), &mut services).unwrap();
        assert_eq!(unlisted, vec!["getty@.service"]);
        assert_eq!(services["cron.service"]["status"], "enabled");
        assert_eq!(services["rollout-web.service"]["status"], "disabled");
        assert_eq!(services["rollout-web.service"]["state"], "stopped");
        assert_eq!(
            services["broken.service"]["status"], "failed",
            "a bad state is kept"
        );
        assert_eq!(services["getty@.service"]["state"], "unknown");
        apply_active_states("getty@.service\tActiveState=inactive\n", &mut services);
        assert_eq!(services["getty@.service"]["state"], "inactive");
        assert!(active_states_command(&["a b".into()]).contains("for u in 'a b'; do"));
    }

    #[test]
    fn sections_split_the_output() {
        let got = sections("@@sysv\n [ + ]  cron\n@@rc 0\n@@units\na.service x\n@@rc 1\n");
        assert_eq!(got[0], ("sysv", vec![" [ + ]  cron"], 0));
        assert_eq!(got[1], ("units", vec!["a.service x"], 1));
    }
}
