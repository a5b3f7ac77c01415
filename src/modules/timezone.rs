//! `timezone` (community.general): the system time zone, with
//! `timedatectl` where systemd answers, otherwise as on Debian without
//! systemd: `/etc/timezone`, the `/etc/localtime` symlink, then
//! `dpkg-reconfigure tzdata`. `hwclock` is not supported (it needs the
//! hardware clock, which a fleet patch should not touch).

use super::accounts::run_tool;
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::core::shell_quote;
use serde_json::json;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "timezone",
        &[
            p("name", Kind::Str),
            aliases(
                choices(p("hwclock", Kind::Str), &["local", "UTC"]),
                &["rtc"],
            ),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const ZONEINFO: &str = "/usr/share/zoneinfo";
const TIMEZONE_FILE: &str = "/etc/timezone";

/// What the probe saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    pub systemd: bool,
    /// `timedatectl status`'s `Time zone:` value.
    pub timedatectl_zone: Option<String>,
    /// The first word of /etc/timezone.
    pub file_zone: Option<String>,
    /// /etc/localtime's link target, if a link.
    pub link: Option<String>,
    /// /etc/localtime is the same file as the wanted zone's.
    pub same_as_wanted: bool,
    pub zone_exists: bool,
    pub dpkg_reconfigure: bool,
}

/// One round trip: which method applies and the current zone by it.
fn probe_script(name: &str) -> String {
    let zone = shell_quote(&format!("{ZONEINFO}/{name}"));
    format!(
        "z={zone}\n\
         [ -f \"$z\" ] && echo zone_exists=1\n\
         if s=$(LANGUAGE=C LC_ALL=C timedatectl status 2>/dev/null); then echo systemd=1; \
         printf '%s\\n' \"$s\" | sed -n 's/^[[:space:]]*Time \\{{0,1\\}}zone[[:space:]]*:[[:space:]]*\\([^[:space:]]*\\).*/tdz=\\1/p'; fi\n\
         [ -r {TIMEZONE_FILE} ] && sed -n 's/^\\([^[:space:]]\\{{1,\\}}\\).*/file=\\1/p' {TIMEZONE_FILE} | head -n 1\n\
         [ -L /etc/localtime ] && printf 'link=%s\\n' \"$(readlink /etc/localtime)\"\n\
         [ -e /etc/localtime ] || echo broken=1\n\
         cmp -s /etc/localtime \"$z\" && echo same=1\n\
         command -v dpkg-reconfigure >/dev/null && echo dpkg=1\ntrue\n"
    )
}

pub fn parse_probe(stdout: &str) -> Seen {
    let lines = super::accounts::tagged(stdout.as_bytes());
    let get = |t: &str| super::accounts::tag(&lines, t).map(str::to_string);
    let broken = get("broken").is_some();
    Seen {
        systemd: get("systemd").is_some(),
        timedatectl_zone: get("tdz"),
        file_zone: get("file"),
        link: get("link").filter(|_| !broken),
        same_as_wanted: get("same").is_some(),
        zone_exists: get("zone_exists").is_some(),
        dpkg_reconfigure: get("dpkg").is_some(),
    }
}

/// The current zone without systemd, as Ansible's `NosystemdTimezone`
/// reads it: /etc/timezone, and when that already says `planned`, what
/// /etc/localtime really is.
pub fn file_zone(seen: &Seen, planned: &str) -> String {
    let Some(value) = seen.file_zone.clone() else {
        return "n/a".into();
    };
    if value != planned {
        return value;
    }
    match &seen.link {
        Some(target) => {
            let re = regex::Regex::new(r"(?:/(?:usr/share|etc)/zoneinfo/)(.*)").expect("valid");
            match re.captures(target) {
                Some(c) if &c[1] != planned => c[1].to_string(),
                Some(_) => value,
                None => "n/a".into(),
            }
        }
        None if seen.same_as_wanted => value,
        None => "n/a".into(),
    }
}

/// Ansible's `_edit_file` on /etc/timezone: the first zone line replaced,
/// the others dropped; and its message.
pub fn edit_timezone_file(before: &str, name: &str) -> (String, String) {
    let mut lines: Vec<&str> = before.split_inclusive('\n').collect();
    let matched: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].chars().next().is_some_and(|c| !c.is_whitespace()))
        .collect();
    let at = matched.first().copied().unwrap_or(0);
    for &i in matched.iter().rev() {
        lines.remove(i);
    }
    let new_line = format!("{name}\n");
    lines.insert(at.min(lines.len()), &new_line);
    let msg = format!(
        "Added 1 line and deleted {} line(s) on {TIMEZONE_FILE}",
        matched.len()
    );
    (lines.concat(), msg)
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn look(ctx: &ModuleContext<'_>, name: &str) -> Result<Seen, TaskResult> {
    let (out, _) = run_tool(ctx, &probe_script(name), None).await?;
    Ok(parse_probe(&out))
}

fn current(seen: &Seen, name: &str) -> String {
    if seen.systemd {
        seen.timedatectl_zone
            .clone()
            .unwrap_or_else(|| "n/a".into())
    } else {
        file_zone(seen, name)
    }
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    if args.get("hwclock").is_some_and(|v| !v.is_null()) {
        return Err(TaskResult::failed(
            "hwclock is not supported by rollout's timezone; set only name",
        ));
    }
    let Some(name) = arg_str(args, "name") else {
        return Err(TaskResult::failed(
            "one of the following is required: hwclock, name",
        ));
    };
    if name.is_empty() || name.starts_with(['-', '/']) || name.split('/').any(|p| p == "..") {
        return Err(TaskResult::failed(format!(
            "Error message:\ngiven timezone \"{name}\" is not available"
        )));
    }
    let seen = look(ctx, name).await?;
    if !seen.zone_exists {
        return Err(TaskResult::failed(format!(
            "Error message:\ngiven timezone \"{name}\" is not available"
        )));
    }
    if !seen.systemd && !seen.dpkg_reconfigure {
        return Err(TaskResult::failed(
            "rollout's timezone supports hosts with systemd (timedatectl) or Debian's \
             /etc/timezone and dpkg-reconfigure; this host has neither",
        ));
    }
    let before = current(&seen, name);
    let mut msgs = Vec::new();
    let after = if before == name || ctx.check_mode {
        name.to_string()
    } else {
        if seen.systemd {
            let line = format!("timedatectl set-timezone {}", shell_quote(name));
            run_tool(ctx, &line, None).await?;
            msgs.push(format!("executed `{line}`"));
        } else {
            let (old, _) = run_tool(
                ctx,
                &format!("cat {TIMEZONE_FILE} 2>/dev/null || true"),
                None,
            )
            .await?;
            let (content, msg) = edit_timezone_file(&old, name);
            let zone = shell_quote(&format!("{ZONEINFO}/{name}"));
            let line = format!(
                "printf '%s' {} > {TIMEZONE_FILE} && ln -sf {zone} /etc/localtime && \
                 DEBIAN_FRONTEND=noninteractive dpkg-reconfigure --frontend noninteractive tzdata",
                shell_quote(&content)
            );
            run_tool(ctx, &line, None).await?;
            msgs.push(msg);
        }
        let now = current(&look(ctx, name).await?, name);
        if now != name {
            return Err(TaskResult::failed(format!(
                "Error message:\nstill not desired state, though changes have made - planned: \
                 {name}, after: {now}"
            )));
        }
        now
    };
    let mut result = TaskResult::ok().with(
        "diff",
        json!({"before": {"name": before}, "after": {"name": after}}),
    );
    result.changed = before != after;
    if !msgs.is_empty() {
        result = result.with_msg(msgs.join("\n"));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_is_read_back() {
        let seen =
            parse_probe("zone_exists=1\nfile=Etc/UTC\nlink=/usr/share/zoneinfo/Etc/UTC\ndpkg=1\n");
        assert!(!seen.systemd && seen.dpkg_reconfigure && seen.zone_exists);
        assert_eq!(file_zone(&seen, "Etc/UTC"), "Etc/UTC");
        assert_eq!(file_zone(&seen, "Asia/Tokyo"), "Etc/UTC");
        let stale = Seen {
            file_zone: Some("Asia/Tokyo".into()),
            ..seen.clone()
        };
        // /etc/timezone says Tokyo but the link says UTC: not there yet.
        assert_eq!(file_zone(&stale, "Asia/Tokyo"), "Etc/UTC");
        let copied = Seen {
            link: None,
            same_as_wanted: true,
            ..stale.clone()
        };
        assert_eq!(file_zone(&copied, "Asia/Tokyo"), "Asia/Tokyo");
        assert_eq!(file_zone(&Seen::default(), "X"), "n/a");
    }

    #[test]
    fn the_timezone_file_keeps_one_zone_line() {
        assert_eq!(
            edit_timezone_file("Etc/UTC\n", "Asia/Tokyo"),
            (
                "Asia/Tokyo\n".to_string(),
                format!("Added 1 line and deleted 1 line(s) on {TIMEZONE_FILE}")
            )
        );
        assert_eq!(edit_timezone_file("", "UTC").0, "UTC\n");
    }
}
