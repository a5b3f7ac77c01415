//! ansible-playbook's console format: `PLAY [...]`, `TASK [...]`, one status
//! line per host, and the `PLAY RECAP`.

use super::palette::{Colour, Palette};
use crate::events::{Event, EventSink, HostResult, HostStats, Status};
use serde_json::Value as Json;
use std::io::Write;
use std::sync::Mutex;

const WIDTH: usize = 80;

pub struct Console<W: Write + Send> {
    out: Mutex<W>,
    verbosity: u8,
    palette: Palette,
}

impl<W: Write + Send> Console<W> {
    pub fn new(out: W, verbosity: u8) -> Self {
        Console {
            out: Mutex::new(out),
            verbosity,
            palette: Palette::PLAIN,
        }
    }

    /// Colours lines as ansible-playbook does (plain by default).
    pub fn with_palette(mut self, palette: Palette) -> Self {
        self.palette = palette;
        self
    }
}

/// A result's `diff` (one mapping or a list of them) as Ansible prints it:
/// `--- before: PATH` / `+++ after: PATH` and unified hunks, their lines
/// coloured by their first character. Empty when nothing differs.
pub fn render_diff(diff: &Json, palette: Palette) -> String {
    let parts: Vec<&Json> = match diff {
        Json::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = String::new();
    for part in parts {
        let Json::Object(map) = part else { continue };
        let side = |key: &str| -> String {
            match map.get(key) {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => s.clone(),
                Some(other) => format!("{}\n", pretty(other)),
            }
        };
        // Ansible's callback shows a module's `prepared` text (apt's plan)
        // after the hunks, as it is.
        let prepared = map.get("prepared").and_then(Json::as_str).map(|text| {
            let newline = if text.ends_with('\n') { "" } else { "\n" };
            format!("{text}{newline}")
        });
        let (before, after) = (side("before"), side("after"));
        if before == after {
            out.push_str(prepared.as_deref().unwrap_or_default());
            continue;
        }
        let header = |key: &str, word: &str| match map.get(key).and_then(Json::as_str) {
            Some(h) => format!("{word}: {h}"),
            None => word.to_string(),
        };
        let text = similar::TextDiff::from_lines(&before, &after);
        let mut unified = text.unified_diff();
        unified.context_radius(3).missing_newline_hint(false);
        let hunks = unified
            .header(
                &header("before_header", "before"),
                &header("after_header", "after"),
            )
            .to_string();
        for line in hunks.lines() {
            let colour = match line.as_bytes().first() {
                Some(b'+') => Some(Colour::DiffAdd),
                Some(b'-') => Some(Colour::DiffRemove),
                _ if line.starts_with("@@") => Some(Colour::DiffLines),
                _ => None,
            };
            match colour {
                Some(colour) => out.push_str(&palette.paint(line, colour)),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out.push_str(prepared.as_deref().unwrap_or_default());
    }
    out
}

/// `TASK [name] *****...` padded with stars to the terminal width.
pub fn banner(title: &str) -> String {
    let stars = WIDTH.saturating_sub(title.len() + 1).max(3);
    format!("{title} {}", "*".repeat(stars))
}

/// Ansible's recap line: the host padded to 26, each counter `name=N` with
/// N left-aligned in 4 columns; in colour, the host in its worst outcome's
/// colour and each counter that is not 0 in its own.
pub fn recap_line(host: &str, s: &HostStats, palette: Palette) -> String {
    let counters = [
        ("ok", s.ok, Colour::Ok),
        ("changed", s.changed, Colour::Changed),
        ("unreachable", s.unreachable, Colour::Unreachable),
        ("failed", s.failed, Colour::Error),
        ("skipped", s.skipped, Colour::Skip),
        ("rescued", s.rescued, Colour::Ok),
        ("ignored", s.ignored, Colour::Warn),
    ];
    let body: Vec<String> = counters
        .iter()
        .map(|(name, n, colour)| {
            let counter = format!("{name}={n:<4}");
            match n {
                0 => counter,
                _ => palette.paint(&counter, *colour),
            }
        })
        .collect();
    let host_colour = if s.failed > 0 || s.unreachable > 0 {
        Colour::Error
    } else if s.changed > 0 {
        Colour::Changed
    } else {
        Colour::Ok
    };
    // Padded to 26 visible columns, the escape codes aside.
    let padding = " ".repeat(26usize.saturating_sub(host.chars().count()));
    format!(
        "{}{padding} : {}",
        palette.paint(host, host_colour),
        body.join(" ")
    )
    .trim_end()
    .to_string()
}

fn pretty(value: &Json) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The result minus what every line would repeat, as `-v` shows it.
fn shown(result: &Json) -> Json {
    let mut result = result.clone();
    if let Json::Object(map) = &mut result {
        map.remove("ansible_facts");
        map.remove("diff");
        // Printed as `[WARNING]:` lines above the result, as Ansible does.
        map.remove("warnings");
        if map.get("failed") == Some(&Json::Bool(false)) {
            map.remove("failed");
        }
    }
    result
}

impl<W: Write + Send> Console<W> {
    pub fn render(&self, event: &Event) -> Option<String> {
        Some(match event {
            Event::PlayStart { name, .. } => format!("\n{}", banner(&format!("PLAY [{name}]"))),
            Event::NoHostsMatched { .. } => self
                .palette
                .paint("skipping: no hosts matched", Colour::Skip),
            Event::BatchStart {
                play,
                index,
                count,
                hosts,
            } => {
                let batch = format!("BATCH {index}/{count}: {}", hosts.join(", "));
                // Ansible prints the play's banner for every batch; the
                // first follows the play's own.
                if *index > 1 {
                    format!("\n{}\n{batch}", banner(&format!("PLAY [{play}]")))
                } else {
                    format!("\n{batch}")
                }
            }
            Event::TaskStart {
                name,
                location,
                handler,
            } => {
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                let mut s = format!("\n{}", banner(&format!("{kind} [{name}]")));
                if self.verbosity >= 2
                    && let Some(loc) = location
                {
                    s.push_str(&format!("\ntask path: {loc}"));
                }
                s
            }
            Event::Included { host, file } => {
                (self.palette).paint(&format!("included: {file} for {host}"), Colour::Included)
            }
            Event::HostResult(r) => self.host_line(r),
            Event::Retrying {
                host,
                task,
                retries_left,
                ..
            } => self.palette.paint(
                &format!("FAILED - RETRYING: [{host}]: {task} ({retries_left} retries left)."),
                Colour::Debug,
            ),
            Event::Warning { message } => {
                (self.palette).paint(&format!("[WARNING]: {message}"), Colour::Warn)
            }
            // Ansible's default callback, at every verbosity.
            Event::AsyncPoll { host, jid } => self.palette.paint(
                &format!("ASYNC POLL on {host}: jid={jid} started=True finished=False"),
                Colour::Debug,
            ),
            Event::AsyncDone { host, jid, failed } => self.palette.paint(
                &format!(
                    "ASYNC {} on {host}: jid={jid}",
                    if *failed { "FAILED" } else { "OK" }
                ),
                Colour::Debug,
            ),
            Event::PlayAborted { reason } => format!("\nNO MORE HOSTS LEFT: {reason}"),
            Event::Lifecycle {
                host,
                phase,
                detail,
                remaining,
            } => {
                let left = remaining
                    .map(|s| format!(" ({s}s left)"))
                    .unwrap_or_default();
                let time = chrono::Local::now().format("%H:%M:%S");
                format!("  {time} [{host}] {}: {detail}{left}", phase.label())
            }
            Event::OutOfRotation { hosts } => {
                let mut s = format!("\n{}", banner("HOSTS OUT OF ROTATION"));
                for h in hosts {
                    let entry = format!(
                        "{}: {} in {}: {}\n    put it back once fixed: {}",
                        h.host, h.target, h.group, h.why, h.restore
                    );
                    s.push('\n');
                    s.push_str(&self.palette.paint(&entry, Colour::Error));
                }
                s
            }
            Event::HostsCompleted { .. } | Event::TargetResolved { .. } => return None,
            Event::Recap { hosts } => {
                let mut s = format!("\n{}", banner("PLAY RECAP"));
                for (host, stats) in hosts {
                    s.push('\n');
                    s.push_str(&recap_line(host, stats, self.palette));
                }
                s.push('\n');
                s
            }
        })
    }

    /// A result as Ansible's default callback prints it: the diff first
    /// (its `v2_on_file_diff` comes before the result), then the module's
    /// warnings, then the host's status line.
    fn host_line(&self, r: &HostResult) -> String {
        let line = self.warnings_above(r, self.status_line(r));
        match r.result.get("diff") {
            Some(diff) if r.show_diff && !matches!(r.status, Status::Skipped) => {
                let text = render_diff(diff, self.palette);
                format!("{text}{line}")
            }
            _ => line,
        }
    }

    /// A module's `warnings` come before its host line, one `[WARNING]:`
    /// each, as Ansible's default callback prints them.
    fn warnings_above(&self, r: &HostResult, line: String) -> String {
        let Some(Json::Array(warnings)) = r.result.get("warnings") else {
            return line;
        };
        let mut text = String::new();
        for warning in warnings {
            let message = warning
                .as_str()
                .map_or_else(|| warning.to_string(), String::from);
            text.push_str(&(self.palette).paint(&format!("[WARNING]: {message}"), Colour::Warn));
            text.push('\n');
        }
        text + &line
    }

    fn status_line(&self, r: &HostResult) -> String {
        let host = &r.host;
        let target = match &r.delegated_to {
            Some(d) => format!("[{host} -> {d}]"),
            None => format!("[{host}]"),
        };
        let item = r
            .item
            .as_ref()
            .map(|i| format!(" => (item={i})"))
            .unwrap_or_default();
        let shown = shown(&r.result);
        let paint = |text: String, colour| self.palette.paint(&text, colour);
        match r.status {
            Status::Failed => {
                let mut s = paint(
                    format!(
                        "{}: {target}{item}: FAILED! => {}",
                        if item.is_empty() { "fatal" } else { "failed" },
                        compact(&shown)
                    ),
                    Colour::Error,
                );
                if r.ignored {
                    s.push('\n');
                    s.push_str(&paint("...ignoring".into(), Colour::Skip));
                }
                s
            }
            Status::Unreachable => paint(
                format!("fatal: {target}: UNREACHABLE! => {}", compact(&shown)),
                Colour::Unreachable,
            ),
            Status::Skipped if self.verbosity == 0 => {
                paint(format!("skipping: {target}{item}"), Colour::Skip)
            }
            _ => {
                let (word, colour) = match r.status {
                    Status::Changed => ("changed", Colour::Changed),
                    Status::Skipped => ("skipping", Colour::Skip),
                    _ => ("ok", Colour::Ok),
                };
                let line = if r.show_result && !matches!(r.status, Status::Skipped) {
                    let mut body = shown;
                    if let Json::Object(map) = &mut body {
                        map.remove("changed");
                    }
                    format!("{word}: {target}{item} => {}", pretty(&body))
                } else if self.verbosity >= 1 {
                    format!("{word}: {target}{item} => {}", compact(&shown))
                } else {
                    format!("{word}: {target}{item}")
                };
                paint(line, colour)
            }
        }
    }
}

fn compact(value: &Json) -> String {
    value.to_string()
}

impl<W: Write + Send> EventSink for Console<W> {
    fn emit(&self, event: Event) {
        if let Some(text) = self.render(&event)
            && let Ok(mut out) = self.out.lock()
        {
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result for host `h`, not a loop item, not delegated.
    fn on_h(status: Status, result: Json, ignored: bool) -> HostResult {
        HostResult {
            host: "h".into(),
            status,
            item: None,
            result,
            ignored,
            delegated_to: None,
            show_result: false,
            show_diff: false,
        }
    }

    #[test]
    fn module_warnings_come_before_the_host_line_and_not_in_its_result() {
        let console = Console::new(Vec::new(), 1);
        let r = on_h(
            Status::Ok,
            serde_json::json!({"changed": false, "warnings": ["first", "second"], "rc": 0}),
            false,
        );
        let text = console.host_line(&HostResult {
            show_result: true,
            ..r
        });
        assert_eq!(
            text,
            "[WARNING]: first\n[WARNING]: second\nok: [h] => {\n  \"rc\": 0\n}"
        );
    }

    #[test]
    fn banner_is_eighty_wide() {
        assert_eq!(banner("TASK [x]").len(), WIDTH);
        assert!(banner(&"x".repeat(100)).ends_with("***"));
    }

    #[test]
    fn recap_matches_ansible_layout() {
        let s = HostStats {
            ok: 2,
            changed: 1,
            ..Default::default()
        };
        assert_eq!(
            recap_line("web1", &s, Palette::PLAIN),
            "web1                       : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0"
        );
    }

    #[test]
    fn diff_renders_unified() {
        let diff = serde_json::json!({
            "before": "a\nb\nc\n",
            "after": "a\nB\nc\nd\n",
            "before_header": "/etc/x.conf",
            "after_header": "/etc/x.conf",
        });
        assert_eq!(
            render_diff(&diff, Palette::PLAIN),
            "--- before: /etc/x.conf\n+++ after: /etc/x.conf\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n"
        );
        assert_eq!(
            render_diff(
                &serde_json::json!({"before": "x", "after": "x"}),
                Palette::PLAIN
            ),
            ""
        );
        assert_eq!(
            render_diff(
                &serde_json::json!({"prepared": "The following packages will be upgraded:\n  nginx"}),
                Palette::PLAIN
            ),
            "The following packages will be upgraded:\n  nginx\n"
        );
        let c = Console::new(Vec::new(), 0);
        let line = c.host_line(&HostResult {
            show_diff: true,
            ..on_h(Status::Changed, serde_json::json!({"changed": true, "diff": [{"before": {"state": "absent"}, "after": {"state": "directory"}}]}), false)
        });
        assert!(
            line.starts_with("--- before\n+++ after\n@@") && line.ends_with("\nchanged: [h]"),
            "{line}"
        );
        assert!(
            line.contains("-  \"state\": \"absent\"\n+  \"state\": \"directory\""),
            "{line}"
        );
        let plain = Console::new(Vec::new(), 0).host_line(&on_h(
            Status::Changed,
            serde_json::json!({"changed": true, "diff": {"before": "a", "after": "b"}}),
            false,
        ));
        assert_eq!(plain, "changed: [h]");
    }

    #[test]
    fn colours_as_ansible_playbook() {
        let c = Console::new(Vec::new(), 0).with_palette(Palette::COLOURED);
        let line = |status, ignored| c.host_line(&on_h(status, serde_json::json!({}), ignored));
        assert_eq!(line(Status::Ok, false), "\x1b[0;32mok: [h]\x1b[0m");
        assert_eq!(
            line(Status::Changed, false),
            "\x1b[0;33mchanged: [h]\x1b[0m"
        );
        assert_eq!(
            line(Status::Skipped, false),
            "\x1b[0;36mskipping: [h]\x1b[0m"
        );
        assert_eq!(
            line(Status::Failed, true),
            "\x1b[0;31mfatal: [h]: FAILED! => {}\x1b[0m\n\x1b[0;36m...ignoring\x1b[0m"
        );
        assert!(line(Status::Unreachable, false).starts_with("\x1b[1;31mfatal: [h]: UNREACHABLE!"));
        // As ansible-playbook 2.19 printed it (ANSIBLE_FORCE_COLOR=1).
        let stats = HostStats {
            ok: 7,
            changed: 3,
            failed: 1,
            skipped: 1,
            ignored: 2,
            ..Default::default()
        };
        assert_eq!(
            recap_line("web1", &stats, Palette::COLOURED),
            "\x1b[0;31mweb1\x1b[0m                       : \x1b[0;32mok=7   \x1b[0m \x1b[0;33mchanged=3   \x1b[0m unreachable=0    \x1b[0;31mfailed=1   \x1b[0m \x1b[0;36mskipped=1   \x1b[0m rescued=0    \x1b[1;35mignored=2   \x1b[0m"
        );
        let diff = serde_json::json!({"before": "a\n", "after": "b\n"});
        assert_eq!(
            render_diff(&diff, Palette::COLOURED),
            "\x1b[0;31m--- before\x1b[0m\n\x1b[0;32m+++ after\x1b[0m\n\x1b[0;36m@@ -1 +1 @@\x1b[0m\n\x1b[0;31m-a\x1b[0m\n\x1b[0;32m+b\x1b[0m\n"
        );
    }

    #[test]
    fn failure_line_shows_result() {
        let c = Console::new(Vec::new(), 0);
        let line = c.host_line(&on_h(
            Status::Failed,
            serde_json::json!({"msg": "boom", "failed": true}),
            true,
        ));
        assert!(line.starts_with("fatal: [h]: FAILED! => {"), "{line}");
        assert!(
            line.contains("\"msg\":\"boom\"") && line.ends_with("...ignoring"),
            "{line}"
        );
    }
}
