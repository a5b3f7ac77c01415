//! Reading what rpm and dnf print: rpm's list of installed packages and
//! dnf's transaction table. The tests read the
//! recorded outputs of real runs (tests/fixtures/dnf, tests/bed/dnf-record).

use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// One installed package: `[EPOCH:]VERSION-RELEASE` and architecture.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Installed {
    pub evr: String,
    pub arch: String,
}

/// Installed packages by name; several entries for an install-only
/// package (kernels) or one installed for several architectures.
pub type Snapshot = BTreeMap<String, Vec<Installed>>;

/// `rpm -qa --qf` format of [`parse_snapshot`]'s lines (the epoch only
/// when there is one, as dnf prints versions).
pub const RPM_QF: &str = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n";

pub fn parse_snapshot(stdout: &str) -> Snapshot {
    let mut known = Snapshot::new();
    for line in stdout.lines() {
        let mut fields = line.split('\t');
        let (Some(name), Some(evr), Some(arch)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // gpg-pubkey entries are keys, not packages.
        if arch == "(none)" {
            continue;
        }
        let entries = known.entry(name.to_string()).or_default();
        entries.push(Installed {
            evr: evr.to_string(),
            arch: arch.to_string(),
        });
        entries.sort();
    }
    known
}

/// A package's installed versions as one value: null when not installed,
/// else the versions joined by ", " (several for a kernel).
fn versions(entries: Option<&Vec<Installed>>) -> Json {
    let mut evrs: Vec<&str> = entries
        .into_iter()
        .flatten()
        .map(|i| i.evr.as_str())
        .collect();
    evrs.dedup();
    if evrs.is_empty() {
        Json::Null
    } else {
        Json::String(evrs.join(", "))
    }
}

/// `{name: {before, after}}` for every package that changed, as apt's
/// result says it.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Map<String, Json> {
    let mut out = Map::new();
    for name in before.keys().chain(after.keys()) {
        let (was, now) = (before.get(name), after.get(name));
        if was.map_or(&[][..], Vec::as_slice) != now.map_or(&[][..], Vec::as_slice) {
            out.insert(
                name.clone(),
                json!({"before": versions(was), "after": versions(now)}),
            );
        }
    }
    out
}

/// Ansible's `results` lines: `Installed: NAME-EVR.ARCH` for what came
/// (`Downloaded:` for download_only), then `Removed: NAME-EVR.ARCH` for what
/// went, as dnf's transaction sets list them.
pub fn results(before: &Snapshot, after: &Snapshot, verb: &str) -> Vec<String> {
    let empty = Vec::new();
    let mut came = Vec::new();
    let mut went = Vec::new();
    for name in before.keys().chain(after.keys()) {
        let (was, now) = (
            before.get(name).unwrap_or(&empty),
            after.get(name).unwrap_or(&empty),
        );
        for i in now.iter().filter(|i| !was.contains(i)) {
            let line = format!("{verb}: {name}-{}.{}", i.evr, i.arch);
            if !came.contains(&line) {
                came.push(line);
            }
        }
        for i in was.iter().filter(|i| !now.contains(i)) {
            let line = format!("Removed: {name}-{}.{}", i.evr, i.arch);
            if !went.contains(&line) {
                went.push(line);
            }
        }
    }
    came.extend(went);
    came
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Install,
    /// Upgrade, downgrade or reinstall: replaces the installed version.
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub action: Action,
    pub name: String,
    pub arch: String,
    pub evr: String,
}

/// The packages of dnf's transaction table (`Installing:`, `Upgrading:`,
/// `Removing dependent packages:`... and their `NAME ARCH VERSION REPO
/// SIZE` rows; a long name wraps the rest of its row onto the next line).
pub fn parse_transaction(stdout: &str) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut action = None;
    let mut carried: Option<String> = None;
    for line in stdout.lines() {
        if line.starts_with("Transaction Summary") {
            break;
        }
        if !line.starts_with(' ') {
            action = line.strip_suffix(':').and_then(|header| {
                let verb = header.split_whitespace().next()?;
                match verb {
                    "Installing" => Some(Action::Install),
                    "Upgrading" | "Downgrading" | "Reinstalling" => Some(Action::Replace),
                    "Removing" => Some(Action::Remove),
                    _ => None,
                }
            });
            carried = None;
            continue;
        }
        let Some(action) = action else { continue };
        let joined = match carried.take() {
            Some(name) => format!("{name} {}", line.trim()),
            None => line.trim().to_string(),
        };
        let words: Vec<&str> = joined.split_whitespace().collect();
        match words.as_slice() {
            [name] => carried = Some((*name).to_string()),
            // `replacing  NAME.ARCH EVR`: the package an obsoleting one replaces.
            ["replacing", ..] => {}
            [name, arch, evr, _repo, ..] => out.push(Planned {
                action,
                name: (*name).to_string(),
                arch: (*arch).to_string(),
                evr: (*evr).to_string(),
            }),
            _ => {}
        }
    }
    out
}

/// The snapshot a planned transaction would leave.
pub fn apply(before: &Snapshot, plan: &[Planned]) -> Snapshot {
    let mut after = before.clone();
    for p in plan {
        let entries = after.entry(p.name.clone()).or_default();
        let entry = Installed {
            evr: p.evr.clone(),
            arch: p.arch.clone(),
        };
        match p.action {
            Action::Install => entries.push(entry),
            Action::Replace => {
                entries.retain(|i| i.arch != p.arch && p.arch != "noarch" && i.arch != "noarch");
                entries.push(entry);
            }
            Action::Remove => entries.retain(|i| *i != entry),
        }
        entries.sort();
        entries.dedup();
        if entries.is_empty() {
            after.remove(&p.name);
        }
    }
    after
}

/// The names dnf could not find (`No match for argument: NAME`).
pub fn unmatched(stdout: &str, stderr: &str) -> Vec<String> {
    stdout
        .lines()
        .chain(stderr.lines())
        .filter_map(|l| l.strip_prefix("No match for argument: "))
        .map(|n| n.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded output of a real dnf 4.14 / rpm 4.18 run.
    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/dnf/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn rpm_lists_installed_packages() {
        assert!(parse_snapshot(&fixture("rpm-qa-empty.stdout")).is_empty());
        let got = parse_snapshot(&fixture("rpm-qa-installed.stdout"));
        assert_eq!(
            got["rollout-hello"],
            [Installed {
                evr: "1.0-1".into(),
                arch: "noarch".into()
            }]
        );
        assert_eq!(got.len(), 2);
        let kernels = parse_snapshot(
            "kernel\t5.14.0-427.el9\tx86_64\nkernel\t5.14.0-362.el9\tx86_64\n\
             gpg-pubkey\tfd431d51-4ae0493b\t(none)\nbash\t1:5.1.8-6.el9\tx86_64\n",
        );
        assert_eq!(kernels["kernel"].len(), 2);
        assert!(!kernels.contains_key("gpg-pubkey"));
        assert_eq!(kernels["bash"][0].evr, "1:5.1.8-6.el9");
    }

    #[test]
    fn changes_and_results_of_a_real_install_upgrade_and_remove() {
        let empty = parse_snapshot(&fixture("rpm-qa-empty.stdout"));
        let v10 = parse_snapshot(&fixture("rpm-qa-installed.stdout"));
        let v11 = parse_snapshot(&fixture("rpm-qa-upgraded.stdout"));
        let gone = parse_snapshot(&fixture("rpm-qa-removed.stdout"));
        let installed = changes(&empty, &v10);
        assert_eq!(
            installed["rollout-hello"],
            json!({"before": null, "after": "1.0-1"})
        );
        assert_eq!(
            results(&empty, &v10, "Installed"),
            [
                "Installed: rollout-hello-1.0-1.noarch",
                "Installed: rollout-lib-1.0-1.noarch"
            ]
        );
        assert_eq!(
            changes(&v10, &v11)["rollout-lib"],
            json!({"before": "1.0-1", "after": "1.1-1"})
        );
        assert_eq!(
            results(&v10, &v11, "Installed"),
            [
                "Installed: rollout-hello-1.1-1.noarch",
                "Installed: rollout-lib-1.1-1.noarch",
                "Removed: rollout-hello-1.0-1.noarch",
                "Removed: rollout-lib-1.0-1.noarch"
            ]
        );
        assert_eq!(
            changes(&v11, &gone)["rollout-hello"],
            json!({"before": "1.1-1", "after": null})
        );
        assert!(changes(&v11, &v11).is_empty());
        let kernel = |v: &str| parse_snapshot(v);
        let two = changes(
            &kernel("kernel\t5.14.0-1\tx86_64\n"),
            &kernel("kernel\t5.14.0-1\tx86_64\nkernel\t5.14.0-2\tx86_64\n"),
        );
        assert_eq!(
            two["kernel"],
            json!({"before": "5.14.0-1", "after": "5.14.0-1, 5.14.0-2"})
        );
    }

    #[test]
    fn transaction_tables_of_real_runs() {
        let install = parse_transaction(&fixture("install-assumeno.stdout"));
        assert_eq!(
            install,
            [
                Planned {
                    action: Action::Install,
                    name: "rollout-hello".into(),
                    arch: "noarch".into(),
                    evr: "1.0-1".into()
                },
                Planned {
                    action: Action::Install,
                    name: "rollout-lib".into(),
                    arch: "noarch".into(),
                    evr: "1.1-1".into()
                }
            ]
        );
        let empty = Snapshot::new();
        let v10 = parse_snapshot(&fixture("rpm-qa-installed.stdout"));
        assert_eq!(
            changes(&empty, &apply(&empty, &install))["rollout-lib"],
            json!({"before": null, "after": "1.1-1"})
        );
        let upgrade = parse_transaction(&fixture("upgrade-assumeno.stdout"));
        assert_eq!(upgrade.len(), 2);
        assert_eq!(
            apply(&v10, &upgrade),
            parse_snapshot(&fixture("rpm-qa-upgraded.stdout"))
        );
        let downgrade = parse_transaction(&fixture("downgrade-via-install.stdout"));
        assert_eq!(downgrade[0].action, Action::Replace);
        assert_eq!(downgrade[0].evr, "1.0-1");
        let v11 = parse_snapshot(&fixture("rpm-qa-upgraded.stdout"));
        let remove = parse_transaction(&fixture("remove-assumeno.stdout"));
        // "Removing dependent packages:" counts too.
        assert_eq!(apply(&v11, &remove), Snapshot::new());
        assert!(parse_transaction(&fixture("upgrade-nothing.stdout")).is_empty());
        assert!(parse_transaction(&fixture("install-installed.stdout")).is_empty());
        // The real (not simulated) run prints the same table first.
        assert_eq!(
            parse_transaction(&fixture("install.stdout")).len(),
            2,
            "install.stdout"
        );
    }

    #[test]
    fn wrapped_rows_are_joined() {
        let out = "Installing:\n a-package-with-a-very-long-name-indeed\n                     \
                   x86_64     2:1.0-1.el9     appstream     10 k\n replacing  old.x86_64 0.9-1\n\n\
                   Transaction Summary\n";
        let got = parse_transaction(out);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "a-package-with-a-very-long-name-indeed");
        assert_eq!(got[0].evr, "2:1.0-1.el9");
    }

    #[test]
    fn unknown_packages_are_named() {
        assert_eq!(
            unmatched(
                &fixture("install-unknown.stdout"),
                &fixture("install-unknown.stderr")
            ),
            ["rollout-nosuch"]
        );
    }
}
