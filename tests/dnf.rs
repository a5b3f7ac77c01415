//! `dnf`/`yum` against REAL dnf 4 where this machine has it (Debian's
//! `dnf`, `rpm` and `createrepo-c` packages), on a throw-away rpm
//! database: `installroot` and `conf_file` point into a temporary
//! directory (tests/bed/dnf-repo), so this machine's own packages are
//! never touched. Where dnf, rpmbuild or createrepo_c is missing (CI),
//! the test prints SKIPPED: there, dnf is covered only by the unit tests
//! on recorded outputs (src/modules/dnf, tests/fixtures/dnf).

mod common;

use common::{Outcome, rollout};
use std::path::Path;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

fn bed() -> Option<tempfile::TempDir> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let missing: Vec<&str> = ["dnf", "rpmbuild", "createrepo_c", "modifyrepo_c"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !root || !missing.is_empty() {
        let why = if root {
            format!("missing {}", missing.join(", "))
        } else {
            "not root".into()
        };
        println!("SKIPPED: no real dnf here ({why})");
        eprintln!("SKIPPED: no real dnf here ({why})");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/dnf-repo");
    assert!(
        Command::new(script)
            .arg(dir.path())
            .status()
            .unwrap()
            .success()
    );
    Some(dir)
}

/// A local play of `tasks`; `o` holds the dnf options of the bed.
fn play(dir: &Path, tasks: &str, args: &[&str]) -> Outcome {
    let d = dir.display();
    let text = format!(
        "- hosts: localhost\n  gather_facts: false\n  vars:\n    o: {{installroot: \"{d}/root\", \
         conf_file: \"{d}/dnf.conf\", releasever: \"1\"}}\n  tasks:\n{tasks}"
    );
    std::fs::write(dir.join("play.yml"), text).unwrap();
    std::fs::write(dir.join("inv"), "localhost ansible_connection=local\n").unwrap();
    let (pb, inv) = (dir.join("play.yml"), dir.join("inv"));
    let mut all = vec!["play", pb.to_str().unwrap(), "-i", inv.to_str().unwrap()];
    all.extend_from_slice(args);
    rollout(&all)
}

fn task(module: &str, extra: &str) -> String {
    format!(
        "    - {module}: {{installroot: \"{{{{o.installroot}}}}\", conf_file: \"{{{{o.conf_file}}}}\", \
         releasever: \"1\", {extra}}}\n      register: r\n    - debug: {{var: r}}\n"
    )
}

fn installed(dir: &Path) -> String {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(dir.join("root"))
        .args(["-qa", "--qf", "%{NAME}-%{VERSION} "])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    names.sort();
    names.join(" ")
}

#[test]
fn install_upgrade_remove_with_real_dnf_and_idempotence() {
    let Some(bed) = bed() else { return };
    let dir = bed.path();
    let install = task("dnf", "name: rollout-hello-1.0");
    let first = play(dir, &install, &[]);
    assert!(
        first.recap("localhost").contains("changed=1"),
        "{}",
        first.all()
    );
    first.assert_says("\"Installed: rollout-hello-1.0-1.noarch\"");
    assert_eq!(installed(dir), "rollout-hello-1.0 rollout-lib-1.1");
    // `yum` is dnf; the same spec again is no change, and an older spec
    // with a newer version installed is left alone (no allow_downgrade).
    let again = play(dir, &task("yum", "name: rollout-hello-1.0"), &[]);
    assert!(
        again.recap("localhost").contains("changed=0"),
        "{}",
        again.all()
    );
    again.assert_says("\"msg\": \"Nothing to do\"");

    let latest = task("dnf", "name: rollout-hello, state: latest, security: true");
    let checked = play(dir, &latest, &["--check"]);
    assert!(
        checked.recap("localhost").contains("changed=1"),
        "{}",
        checked.all()
    );
    checked.assert_says("Check mode: No changes made");
    assert_eq!(installed(dir), "rollout-hello-1.0 rollout-lib-1.1");
    let up = play(dir, &latest, &[]);
    assert!(up.recap("localhost").contains("changed=1"), "{}", up.all());
    up.assert_says("\"before\": \"1.0-1\"");
    up.assert_says("\"after\": \"1.1-1\"");
    assert_eq!(installed(dir), "rollout-hello-1.1 rollout-lib-1.1");
    let none = play(dir, &task("dnf", "name: \"*\", state: latest"), &[]);
    assert!(
        none.recap("localhost").contains("changed=0"),
        "{}",
        none.all()
    );

    let down = play(
        dir,
        &task("dnf", "name: rollout-hello-1.0, allow_downgrade: true"),
        &[],
    );
    assert!(
        down.recap("localhost").contains("changed=1"),
        "{}",
        down.all()
    );
    assert_eq!(installed(dir), "rollout-hello-1.0 rollout-lib-1.1");

    let remove = task("dnf", "name: [rollout-hello, rollout-lib], state: absent");
    assert!(
        play(dir, &remove, &[])
            .recap("localhost")
            .contains("changed=1")
    );
    assert_eq!(installed(dir), "");
    assert!(
        play(dir, &remove, &[])
            .recap("localhost")
            .contains("changed=0")
    );

    let unknown = play(dir, &task("dnf", "name: rollout-nosuch"), &[]);
    assert_eq!(unknown.code, 2, "{}", unknown.all());
    unknown.assert_says("No package rollout-nosuch available.");
}

/// The fields Ansible's dnf module returned for the same tasks, recorded
/// by tests/bed/dnf-record (ansible-core 2.19.14 driving the same real dnf).
#[test]
fn results_match_ansibles_dnf_module_task_for_task() {
    let Some(bed) = bed() else { return };
    let dir = bed.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dnf");
    std::fs::write(dir.join("inv"), "localhost ansible_connection=local\n").unwrap();
    let (pb, inv) = (fixtures.join("parity.yml"), dir.join("inv"));
    let out = rollout(&[
        "play",
        pb.to_str().unwrap(),
        "-i",
        inv.to_str().unwrap(),
        "-e",
        &format!("bed={}", dir.display()),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("ansible-results.json")).unwrap(),
    )
    .unwrap();
    let seen: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let keys = ["changed", "failed", "msg", "rc", "results", "failures"];
    let got: Vec<serde_json::Value> = seen
        .iter()
        .map(|r| {
            keys.iter()
                .filter_map(|k| r.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect();
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g, w, "task {i} of tests/fixtures/dnf/parity.yml");
    }
}

/// The directory of the installroot's rpm database, wherever this rpm's
/// configuration puts it (Debian's rpm keeps it under the user's home).
fn rpmdb_dir(root: &Path) -> std::path::PathBuf {
    let found = Command::new("find")
        .arg(root)
        .args([
            "-name",
            "rpmdb.sqlite",
            "-o",
            "-name",
            "Packages.db",
            "-o",
            "-name",
            "Packages",
        ])
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()
        .map(str::to_string)
        .expect("dnf made an rpm database in the installroot");
    Path::new(&first).parent().unwrap().to_path_buf()
}

#[test]
fn package_facts_reads_what_rpm_has_installed() {
    let Some(bed) = bed() else { return };
    let dir = bed.path();
    let install = play(dir, &task("dnf", "name: rollout-hello-1.0"), &[]);
    assert_eq!(install.code, 0, "{}", install.all());
    // `rpm -qa` on the "host" reads the installroot's database through the
    // user's ~/.rpmmacros, as an rpm host reads its own.
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".rpmmacros"),
        format!("%_dbpath {}\n", rpmdb_dir(&dir.join("root")).display()),
    )
    .unwrap();
    let tasks = format!(
        "    - package_facts: {{manager: [dnf]}}\n      environment: {{HOME: \"{}\"}}\n    \
         - debug:\n        var: ansible_facts.packages['rollout-hello']\n    \
         - debug:\n        var: ansible_facts.packages['rollout-lib'][0].source\n",
        home.display()
    );
    let out = play(dir, &tasks, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    out.assert_says("\"name\": \"rollout-hello\"");
    out.assert_says("\"version\": \"1.0\"");
    out.assert_says("\"release\": \"1\"");
    out.assert_says("\"arch\": \"noarch\"");
    out.assert_says("\"epoch\": null");
    out.assert_says("\"ansible_facts.packages['rollout-lib'][0].source\": \"rpm\"");
}
