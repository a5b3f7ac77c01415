//! Differential parity with `ansible-playbook` (ansible-core 2.19.14).
//!
//! Each directory of `tests/parity/` is a case: `playbook.yml`, `inventory`,
//! optional `args` (extra command-line arguments, one per line) and
//! `expected.json`, recorded from ansible-playbook by `scripts/parity-record`
//! (or written by hand for a `rollout-only` case, a deliberate divergence
//! listed in `docs/ansible-differences.md`). This test runs the real rollout
//! binary on every case the same way (`rollout play playbook.yml -i inventory
//! -e out_dir=TMP ARGS...` in the case's directory, with the case's
//! `ansible.cfg` if it has one and no `-i` if it has no `inventory`, no
//! `ANSIBLE_*` variables of the user's) and compares the exit
//! code, the PLAY RECAP of every host, every file written under out_dir
//! (mode and content) and, for `--list-hosts`/`--list-tasks`/`--list-tags`,
//! the listing.
//!
//! Cases where rollout differs today are listed in `tests/parity/KNOWN_GAPS`
//! (a case name, then a note of what differs): they must still differ, so a
//! fix has to remove its line. Every other case must match. `PARITY_CASES=a,b`
//! runs only those cases; `PARITY_VERBOSE=1` prints the differences of the
//! known gaps too.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RECAP_FIELDS: [&str; 7] = [
    "ok",
    "changed",
    "unreachable",
    "failed",
    "skipped",
    "rescued",
    "ignored",
];
/// A case that runs longer than this is killed and reported.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity")
}

/// The case names of `KNOWN_GAPS`, each with its note.
fn known_gaps() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(cases_dir().join("KNOWN_GAPS")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((name, note)) => (name.to_string(), note.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

fn case_names() -> Vec<String> {
    let only: Option<BTreeSet<String>> = std::env::var("PARITY_CASES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/parity exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("playbook.yml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
        .collect();
    names.sort();
    names
}

/// What a run did, in the shape of `expected.json`.
struct Observed {
    result: Value,
    stdout: String,
    stderr: String,
}

/// Runs rollout on a case, as `scripts/parity-record` runs ansible-playbook.
fn run_case(case: &str) -> Observed {
    let case_dir = cases_dir().join(case);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let extra: Vec<String> = std::fs::read_to_string(case_dir.join("args"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    // The case's own ansible.cfg, else none (an empty one): never the user's.
    let mut config = case_dir.join("ansible.cfg");
    if !config.exists() {
        config = tmp.path().join("ansible.cfg");
        std::fs::write(&config, "[defaults]\n").unwrap();
    }
    let inventory: &[&str] = if case_dir.join("inventory").exists() {
        &["-i", "inventory"]
    } else {
        &[]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_rollout"))
        .args(["play", "playbook.yml"])
        .args(inventory)
        .arg("-e")
        .arg(format!("out_dir={}", out_dir.display()))
        .args(&extra)
        .current_dir(&case_dir)
        .env_clear()
        .envs(std::env::vars().filter(|(k, _)| !k.starts_with("ANSIBLE_")))
        .env("ANSIBLE_CONFIG", &config)
        .env("ROLLOUT_STATE_DIR", tmp.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rollout binary runs");
    // Drain both pipes while waiting, so that a chatty run cannot block.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || read_all(&mut out_pipe));
    let err_reader = std::thread::spawn(move || read_all(&mut err_pipe));
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if started.elapsed() > CASE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break -1;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let norm = |s: &str| {
        s.replace(&out_dir.display().to_string(), "OUT_DIR")
            .replace(&case_dir.display().to_string(), "CASE_DIR")
    };
    let mut result = json!({
        "rc": code,
        "recap": recap(&stdout),
        "files": files(&out_dir, &norm),
    });
    let lists = ["--list-hosts", "--list-tasks", "--list-tags"];
    if extra.iter().any(|a| lists.contains(&a.as_str())) {
        result["listing"] = json!(listing(&stdout, &norm));
    }
    Observed {
        result,
        stdout,
        stderr,
    }
}

fn read_all(pipe: &mut impl std::io::Read) -> String {
    let mut bytes = Vec::new();
    let _ = pipe.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The PLAY RECAP lines: `host : ok=1 changed=0 ...`.
fn recap(stdout: &str) -> Value {
    let Some((_, after)) = stdout.rsplit_once("PLAY RECAP") else {
        return json!({});
    };
    let mut hosts = Map::new();
    for line in after.lines() {
        let Some((host, counts)) = line.split_once(" : ") else {
            continue;
        };
        let counts: Map<String, Value> = counts
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), json!(v.parse::<u64>().ok()?))))
            .collect();
        if counts.contains_key("ok") {
            hosts.insert(host.trim().to_string(), Value::Object(counts));
        }
    }
    Value::Object(hosts)
}

/// Every entry under `out_dir`: files with mode, sha256 and small UTF-8
/// text; directories (`name/`) with mode; symlinks with their target.
fn files(out_dir: &Path, norm: &dyn Fn(&str) -> String) -> Value {
    use std::os::unix::fs::PermissionsExt;
    let mut found = BTreeMap::new();
    let mut stack = vec![out_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let path = entry.path();
            let rel = path.strip_prefix(out_dir).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = format!("{:04o}", meta.permissions().mode() & 0o7777);
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                found.insert(rel, json!({"link": norm(&target.display().to_string())}));
            } else if meta.is_dir() {
                found.insert(format!("{rel}/"), json!({"mode": mode}));
                stack.push(path);
            } else {
                let mut data = std::fs::read(&path).unwrap();
                let text = String::from_utf8(data.clone()).ok().map(|t| norm(&t));
                if let Some(t) = &text {
                    data = t.clone().into_bytes();
                }
                let mut e = json!({"mode": mode, "sha256": sha256_hex(&data)});
                if let Some(t) = text.filter(|_| data.len() <= 4096) {
                    e["text"] = json!(t);
                }
                found.insert(rel, e);
            }
        }
    }
    json!(found)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The listing's non-empty lines, trimmed; the host lines of each
/// `hosts (N):` block sorted (ansible-playbook prints them from a set).
fn listing(stdout: &str, norm: &dyn Fn(&str) -> String) -> Vec<String> {
    let ends_block = ["play #", "playbook:", "pattern:", "tasks:", "TASK TAGS:"];
    let (mut lines, mut block, mut in_hosts) = (Vec::new(), Vec::new(), false);
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if in_hosts && !ends_block.iter().any(|p| line.starts_with(p)) {
            block.push(norm(line));
            continue;
        }
        block.sort();
        lines.append(&mut block);
        in_hosts = line.starts_with("hosts (") && line.ends_with("):");
        lines.push(norm(line));
    }
    block.sort();
    lines.append(&mut block);
    lines
}

/// What differs between the recording and rollout's run, one line each.
fn differences(expected: &Value, got: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    if expected["rc"] != got["rc"] {
        diffs.push(format!(
            "exit code: ansible {}, rollout {}",
            expected["rc"], got["rc"]
        ));
    }
    let empty = Map::new();
    let map = |v: &Value| v.as_object().unwrap_or(&empty).clone();
    let (want, have) = (map(&expected["recap"]), map(&got["recap"]));
    for host in want.keys().chain(have.keys()).collect::<BTreeSet<_>>() {
        match (want.get(host), have.get(host)) {
            (Some(_), None) => diffs.push(format!("recap: no line for {host} in rollout's")),
            (None, Some(_)) => diffs.push(format!("recap: {host} is in rollout's only")),
            (Some(w), Some(h)) => {
                let fields: Vec<String> = RECAP_FIELDS
                    .iter()
                    .filter(|f| w[**f] != h[**f])
                    .map(|f| format!("{f} {} vs {}", w[*f], h[*f]))
                    .collect();
                if !fields.is_empty() {
                    diffs.push(format!(
                        "recap {host} (ansible vs rollout): {}",
                        fields.join(", ")
                    ));
                }
            }
            (None, None) => {}
        }
    }
    let (want, have) = (map(&expected["files"]), map(&got["files"]));
    for path in want.keys().chain(have.keys()).collect::<BTreeSet<_>>() {
        match (want.get(path), have.get(path)) {
            (Some(_), None) => {
                diffs.push(format!("file {path}: written by ansible, not by rollout"))
            }
            (None, Some(h)) => diffs.push(format!(
                "file {path}: written by rollout only ({})",
                h["text"]
                    .as_str()
                    .map_or("binary".into(), |t| format!("{t:?}"))
            )),
            (Some(w), Some(h)) => diffs.extend(file_difference(path, w, h)),
            (None, None) => {}
        }
    }
    if expected.get("listing") != got.get("listing") {
        let text = |v: &Value| {
            v.as_array()
                .map(|l| {
                    l.iter()
                        .map(|s| format!("{}\n", s.as_str().unwrap_or_default()))
                        .collect::<String>()
                })
                .unwrap_or_default()
        };
        diffs.push(format!(
            "listing (- ansible, + rollout):\n{}",
            unified(&text(&expected["listing"]), &text(&got["listing"]))
        ));
    }
    diffs
}

fn file_difference(path: &str, want: &Value, have: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    if want.get("mode") != have.get("mode") {
        diffs.push(format!(
            "file {path}: mode {} (ansible) vs {} (rollout)",
            want["mode"], have["mode"]
        ));
    }
    if want.get("link") != have.get("link") {
        diffs.push(format!(
            "file {path}: link {} (ansible) vs {} (rollout)",
            want["link"], have["link"]
        ));
    }
    if want.get("sha256") != have.get("sha256") {
        let body = match (want["text"].as_str(), have["text"].as_str()) {
            (Some(w), Some(h)) => format!(":\n{}", unified(w, h)),
            _ => " (binary or large: sha256 differs)".to_string(),
        };
        diffs.push(format!(
            "file {path}: content differs (- ansible, + rollout){body}"
        ));
    }
    diffs
}

fn unified(want: &str, have: &str) -> String {
    similar::TextDiff::from_lines(want, have)
        .iter_all_changes()
        .map(|c| {
            let sign = match c.tag() {
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Insert => "+",
                similar::ChangeTag::Equal => " ",
            };
            let line = c.value();
            let nl = if line.ends_with('\n') { "" } else { "⏎\n" };
            format!("      {sign}{line}{nl}")
        })
        .collect()
}

struct Verdict {
    case: String,
    diffs: Vec<String>,
    observed: Observed,
}

#[test]
fn rollout_matches_ansible_playbook_recordings() {
    let names = case_names();
    let gaps = known_gaps();
    let queue = Mutex::new(names.clone());
    let verdicts = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(case) = queue.lock().unwrap().pop() {
                    let path = cases_dir().join(&case).join("expected.json");
                    let expected: Value = serde_json::from_str(
                        &std::fs::read_to_string(&path)
                            .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    let observed = run_case(&case);
                    let diffs = differences(&expected, &observed.result);
                    verdicts.lock().unwrap().push(Verdict {
                        case,
                        diffs,
                        observed,
                    });
                }
            });
        }
    });
    let mut verdicts = verdicts.into_inner().unwrap();
    verdicts.sort_by(|a, b| a.case.cmp(&b.case));

    let verbose = std::env::var_os("PARITY_VERBOSE").is_some();
    let rollout_only = names
        .iter()
        .filter(|n| cases_dir().join(n).join("rollout-only").exists())
        .count();
    let mut problems = Vec::new();
    let (mut matching, mut gaps_seen) = (0, 0);
    for v in &verdicts {
        let listed = gaps.get(&v.case);
        match (v.diffs.is_empty(), listed) {
            (true, None) => matching += 1,
            (false, Some(note)) => {
                gaps_seen += 1;
                if verbose {
                    eprintln!("known gap {} ({note}):\n  {}", v.case, v.diffs.join("\n  "));
                }
            }
            (true, Some(_)) => problems.push(format!(
                "{}: matches ansible-playbook now; remove its line from tests/parity/KNOWN_GAPS",
                v.case
            )),
            (false, None) => problems.push(format!(
                "{}: differs from ansible-playbook:\n  {}\n  --- rollout's output (last lines) ---\n{}",
                v.case,
                v.diffs.join("\n  "),
                tail(&format!("{}{}", v.observed.stdout, v.observed.stderr), 25)
            )),
        }
    }
    if std::env::var_os("PARITY_CASES").is_none() {
        for name in gaps.keys().filter(|g| !names.contains(g)) {
            problems.push(format!("KNOWN_GAPS lists {name}, which is no case"));
        }
    }
    eprintln!(
        "parity: {} cases, {matching} match, {gaps_seen} known gaps, {rollout_only} rollout-only (expectation is rollout's)",
        verdicts.len()
    );
    assert!(
        problems.is_empty(),
        "{} parity problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    | {l}\n"))
        .collect()
}
