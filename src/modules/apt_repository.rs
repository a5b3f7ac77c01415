//! `apt_repository`: adds or removes one-line `deb ...` sources as
//! Ansible's does, without its python-apt: rollout reads
//! /etc/apt/sources.list and sources.list.d/*.list in one round trip,
//! edits them in Rust with Ansible's rules (a new source goes to its own
//! file, named from its URL or `filename`; an existing one, even commented
//! out, is enabled in place; `absent` drops every enabled copy), writes
//! back only the files that changed, and runs `apt-get update` after a
//! change (`update_cache`, default true), putting the files back if the
//! update fails. PPAs (`ppa:...`, which need Launchpad) are refused.

use super::registry::Module;
use super::remote_file::{Upload, exec_ok, upload};
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::core::shell_quote;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "apt_repository",
        &[
            required(p("repo", Kind::Str)),
            choices(p("state", Kind::Str), &["absent", "present"]),
            p("mode", Kind::Any),
            aliases(p("update_cache", Kind::Bool), &["update-cache"]),
            p("update_cache_retries", Kind::Int),
            p("update_cache_retry_max_delay", Kind::Int),
            p("filename", Kind::Str),
            p("install_python_apt", Kind::Bool),
            p("validate_certs", Kind::Bool),
            p("codename", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
/// Ansible's DEFAULT_SOURCES_PERM.
const DEFAULT_MODE: u32 = 0o644;
const SOURCE_TYPES: [&str; 2] = ["deb", "deb-src"];

/// One line of a sources file as Ansible's `SourcesList._parse` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub valid: bool,
    pub enabled: bool,
    pub source: String,
    pub comment: String,
}

pub fn parse_line(line: &str) -> Entry {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|i| *i > 0) {
        comment = line[i + 1..].trim().to_string();
        line = &line[..i];
    }
    let mut source = line.trim().to_string();
    let words: Vec<&str> = source.split_whitespace().collect();
    let valid = words.first().is_some_and(|w| SOURCE_TYPES.contains(w));
    if valid {
        source = words.join(" ");
    }
    Entry {
        valid,
        enabled,
        source,
        comment,
    }
}

/// A file's text as Ansible writes it back (`# ` before a disabled line,
/// ` # comment` after a source).
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if !e.enabled {
            out.push_str("# ");
        }
        out.push_str(&e.source);
        if !e.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&e.comment);
        }
        out.push('\n');
    }
    out
}

/// Ansible's file name for a new source: its first word after the type,
/// without options (`[...]`), scheme and credentials, every run of other
/// characters than letters and digits made one `_`; or `filename`. Either
/// way `.list` is appended.
pub fn suggest_filename(source: &str, filename: Option<&str>) -> String {
    if let Some(name) = filename {
        return format!("{name}.list");
    }
    let mut line = String::new();
    let mut depth = false;
    for c in source.chars() {
        match c {
            '[' if !depth => depth = true,
            ']' if depth => depth = false,
            _ if !depth => line.push(c),
            _ => {}
        }
    }
    let first = line
        .split_whitespace()
        .filter(|w| !SOURCE_TYPES.contains(w))
        .map(|w| w.split_once("://").map_or(w, |(_, rest)| rest))
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    let first = first.split_once('@').map_or(first, |(_, host)| host);
    let words: Vec<&str> = first
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!("{}.list", words.join("_"))
}

/// A name without `/` lives in sources.list.d.
fn expand_path(name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("{SOURCES_DIR}/{name}")
    }
}

/// The sources files by path: their entries and mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sources {
    pub files: BTreeMap<String, Vec<Entry>>,
    pub modes: BTreeMap<String, u32>,
    /// Files a source was appended to: they get `mode` (Ansible's new_repos).
    pub appended: BTreeSet<String>,
}

/// Prints each sources file as `\x1eMODE PATH\n`, its text, then `\x1f`.
pub fn read_line() -> String {
    format!(
        "for f in {} {}/*.list; do [ -f \"$f\" ] || continue; \
         printf '\\036%s %s\\n' \"$(stat -L -c %a -- \"$f\")\" \"$f\"; cat -- \"$f\"; printf '\\037'; done",
        shell_quote(SOURCES_LIST),
        shell_quote(SOURCES_DIR)
    )
}

pub fn parse_sources(stdout: &str) -> Sources {
    let mut sources = Sources::default();
    for record in stdout.split('\x1e').filter(|r| !r.is_empty()) {
        let (head, text) = record.split_once('\n').unwrap_or((record, ""));
        let text = text.strip_suffix('\x1f').unwrap_or(text);
        let Some((mode, path)) = head.split_once(' ') else {
            continue;
        };
        sources.modes.insert(
            path.into(),
            u32::from_str_radix(mode, 8).unwrap_or(DEFAULT_MODE),
        );
        sources
            .files
            .insert(path.into(), text.lines().map(parse_line).collect());
    }
    sources
}

impl Sources {
    /// Every file's text, without the files left empty (Ansible's `dump`).
    pub fn dump(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .filter(|(_, entries)| !entries.is_empty())
            .map(|(path, entries)| (path.clone(), render(entries)))
            .collect()
    }

    /// Enables every copy of `source` (commented out or not); else appends
    /// it to `file`.
    pub fn add(&mut self, source: &str, file: &str) {
        let mut found = false;
        for entries in self.files.values_mut() {
            for e in entries.iter_mut().filter(|e| e.valid && e.source == source) {
                e.enabled = true;
                found = true;
            }
        }
        if !found {
            let path = expand_path(file);
            self.files.entry(path.clone()).or_default().push(Entry {
                valid: true,
                enabled: true,
                source: source.into(),
                comment: String::new(),
            });
            self.appended.insert(path);
        }
    }

    /// Drops every enabled copy of `source`.
    pub fn remove(&mut self, source: &str) {
        for entries in self.files.values_mut() {
            entries.retain(|e| !(e.valid && e.enabled && e.source == source));
        }
    }
}

/// The mode argument: octal text or chmod's symbolic form, or a number
/// taken as the mode itself (YAML's `0644`), as Ansible's raw `mode`.
fn wanted_mode(args: &Vars) -> Result<u32, String> {
    match args.get("mode") {
        None | Some(Json::Null) => Ok(DEFAULT_MODE),
        Some(Json::Number(n)) => n
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| format!("mode: {n} is not a file mode")),
        Some(Json::String(s)) => super::mode::apply_mode(s, DEFAULT_MODE, false),
        Some(other) => Err(format!("mode: {other} is not a file mode")),
    }
}

/// The source line `repo` holds, or Ansible's message why not.
fn source_of(repo: &str) -> Result<String, String> {
    if repo.trim().is_empty() {
        return Err("Please set argument 'repo' to a non-empty value".into());
    }
    if repo.trim_start().starts_with("ppa:") {
        return Err(format!(
            "PPA repositories ({repo}) are not supported by rollout's apt_repository \
             (they need Launchpad's API); give the `deb ...` line and its key instead"
        ));
    }
    let entry = parse_line(repo);
    if !entry.valid || !entry.enabled {
        return Err(format!("Invalid repository string: {}", repo.trim()));
    }
    Ok(entry.source)
}

/// Writes `after`'s version of each file in `paths` (or removes it).
async fn save(
    ctx: &ModuleContext<'_>,
    before: &Sources,
    after: &BTreeMap<String, String>,
    paths: &BTreeSet<String>,
    mode: Option<(u32, &BTreeSet<String>)>,
) -> Result<(), TaskResult> {
    for path in paths {
        match after.get(path) {
            Some(text) => {
                let mode = match mode {
                    Some((m, appended)) if appended.contains(path) => m,
                    _ => before.modes.get(path).copied().unwrap_or(DEFAULT_MODE),
                };
                upload(
                    ctx,
                    &Upload {
                        dest: path,
                        content: text.as_bytes(),
                        mode: Some(mode),
                        make_parents: true,
                        follow: true,
                        ..Default::default()
                    },
                )
                .await?;
            }
            None => {
                exec_ok(
                    ctx,
                    &format!("rm -f -- {}", shell_quote(path)),
                    None,
                    "removing the sources file",
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// `apt-get update`, tried `update_cache_retries` times with Ansible's
/// doubling back-off capped at `update_cache_retry_max_delay`.
async fn update_cache(args: &Vars, ctx: &ModuleContext<'_>) -> Result<(), String> {
    let retries = args
        .get("update_cache_retries")
        .and_then(Json::as_u64)
        .unwrap_or(5)
        .max(1);
    let max_delay = args
        .get("update_cache_retry_max_delay")
        .and_then(Json::as_u64)
        .unwrap_or(12);
    let line = format!("apt-get -q {} update", super::apt::common_options(args));
    let mut error = String::new();
    for retry in 0..retries {
        let out = super::apt::exec(ctx, &line)
            .await
            .map_err(|r| r.msg.unwrap_or_default())?;
        if out.rc == 0 {
            return Ok(());
        }
        error = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if retry + 1 < retries {
            let delay = 2u64.saturating_pow(u32::try_from(retry).unwrap_or(u32::MAX));
            tokio::time::sleep(Duration::from_secs(delay.min(max_delay))).await;
        }
    }
    Err(format!(
        "Failed to update apt cache after {retries} retries: {}",
        if error.is_empty() {
            "unknown reason"
        } else {
            &error
        }
    ))
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let repo = arg_str(args, "repo").unwrap_or_default();
    let state = arg_str(args, "state").unwrap_or("present");
    let source = source_of(repo).map_err(TaskResult::failed)?;
    let mode = wanted_mode(args).map_err(TaskResult::failed)?;
    let out = exec_ok(ctx, &read_line(), None, "reading the apt sources").await?;
    let before = parse_sources(&String::from_utf8_lossy(&out.stdout));
    let mut after = before.clone();
    if state == "present" {
        let file = suggest_filename(&source, arg_str(args, "filename"));
        after.add(&source, &file);
    } else {
        after.remove(&source);
    }
    let (old, new) = (before.dump(), after.dump());
    let changed = old != new;
    let added: BTreeSet<String> = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .cloned()
        .collect();
    let removed: BTreeSet<String> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .cloned()
        .collect();
    let touched: BTreeSet<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    let mut result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    result = result
        .with("repo", repo)
        .with("state", state)
        .with("sources_added", json!(added))
        .with("sources_removed", json!(removed));
    // As Ansible: `diff` is always there, with one entry per file added
    // or removed when diffs are asked for.
    let diff: Vec<Json> = added
        .union(&removed)
        .filter(|_| ctx.diff)
        .map(|path| {
            json!({
                "before": old.get(path).cloned().unwrap_or_default(),
                "after": new.get(path).cloned().unwrap_or_default(),
                "before_header": if old.contains_key(path) { path.as_str() } else { "/dev/null" },
                "after_header": if new.contains_key(path) { path.as_str() } else { "/dev/null" },
            })
        })
        .collect();
    result = result.with("diff", diff);
    if !changed || ctx.check_mode {
        return Ok(result);
    }
    save(ctx, &before, &new, &touched, Some((mode, &after.appended))).await?;
    if arg_bool(args, "update_cache", true)
        && let Err(msg) = update_cache(args, ctx).await
    {
        // Ansible's revert_sources_list: the files as they were.
        save(ctx, &before, &old, &touched, None).await?;
        return Err(TaskResult::failed(msg));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_render_as_ansible_writes_them() {
        let e = parse_line("  deb   [trusted=yes]  file:/srv/repo ./  # local");
        assert!(e.valid && e.enabled);
        assert_eq!(e.source, "deb [trusted=yes] file:/srv/repo ./");
        assert_eq!(e.comment, "local");
        let off = parse_line("#deb http://x/ y main");
        assert!(off.valid && !off.enabled);
        assert_eq!(render(&[off]), "# deb http://x/ y main\n");
        let note = parse_line("# just a note");
        assert!(!note.valid);
        assert_eq!(render(&[parse_line(""), note]), "\n# just a note\n");
    }

    #[test]
    fn file_names_follow_ansible() {
        for (line, want) in [
            (
                "deb https://artifacts.elastic.co/packages/6.x/apt stable main",
                "artifacts_elastic_co_packages_6_x_apt.list",
            ),
            (
                "deb [trusted=yes] file:/srv/other ./",
                "file_srv_other.list",
            ),
            (
                "deb [arch=amd64 signed-by=/k.asc] https://user:pw@download.example.com/linux/ubuntu jammy stable",
                "download_example_com_linux_ubuntu.list",
            ),
            (
                "deb http://dl.google.com/linux/chrome/deb/ stable main",
                "dl_google_com_linux_chrome_deb.list",
            ),
        ] {
            assert_eq!(suggest_filename(line, None), want, "{line}");
        }
        assert_eq!(
            suggest_filename("deb http://x/ y", Some("google-chrome")),
            "google-chrome.list"
        );
        assert_eq!(expand_path("a.list"), "/etc/apt/sources.list.d/a.list");
        assert_eq!(expand_path("/tmp/x.list"), "/tmp/x.list");
    }

    #[test]
    fn add_enables_or_appends_and_remove_drops_enabled_copies() {
        let listing = "\x1e644 /etc/apt/sources.list\n#deb http://x/ y main\ndeb http://z/ w main\x1f\
                       \x1e600 /etc/apt/sources.list.d/other.list\ndeb http://o/ o main\x1f";
        let before = parse_sources(listing);
        assert_eq!(before.modes["/etc/apt/sources.list.d/other.list"], 0o600);
        let mut s = before.clone();
        s.add("deb http://x/ y main", "x.list");
        assert_eq!(
            s.dump()["/etc/apt/sources.list"],
            "deb http://x/ y main\ndeb http://z/ w main\n"
        );
        assert!(s.appended.is_empty());
        let mut s = before.clone();
        s.add("deb http://new/ n main", "new.list");
        assert_eq!(
            s.dump()["/etc/apt/sources.list.d/new.list"],
            "deb http://new/ n main\n"
        );
        let mut s = before.clone();
        s.remove("deb http://o/ o main");
        assert!(!s.dump().contains_key("/etc/apt/sources.list.d/other.list"));
        // A commented-out copy is not enabled, so not removed.
        s.remove("deb http://x/ y main");
        assert_eq!(
            s.dump()["/etc/apt/sources.list"],
            before.dump()["/etc/apt/sources.list"]
        );
    }

    #[test]
    fn bad_repos_and_modes_are_refused_clearly() {
        assert!(source_of("").unwrap_err().contains("non-empty"));
        assert!(source_of("ppa:foo/bar").unwrap_err().contains("PPA"));
        assert!(
            source_of("http://x/ y main")
                .unwrap_err()
                .contains("Invalid repository string")
        );
        assert!(source_of("# deb http://x/ y").is_err());
        let args = |v: Json| -> Vars { serde_json::from_value(v).unwrap() };
        assert_eq!(wanted_mode(&args(json!({}))), Ok(0o644));
        assert_eq!(wanted_mode(&args(json!({"mode": "0600"}))), Ok(0o600));
        assert_eq!(wanted_mode(&args(json!({"mode": 384}))), Ok(0o600));
        assert!(wanted_mode(&args(json!({"mode": "rwx"}))).is_err());
    }
}
