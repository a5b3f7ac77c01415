//! `apt_repository` on a disposable Debian root (tests/common/debian_root.rs):
//! the root's own source is taken away, the test repository is copied to
//! /srv/other, and apt_repository adds it back as a new source that `apt`
//! then installs from.

mod common;

use common::debian_root::DebianRoot;

/// Debian-root slots 175-179 and loopback ports 25420-25429 belong to the
/// package-manager tests.
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(175 + n, 25420 + u16::from(n))
}

fn play(root: &DebianRoot, tasks: &str, args: &[&str]) -> common::Outcome {
    let text = format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}");
    root.play("play.yml", &text, args)
}

const LINE: &str = "deb [trusted=yes] file:/srv/other ./";
const FILE: &str = "/etc/apt/sources.list.d/file_srv_other.list";

fn repo(extra: &str) -> String {
    format!(
        "    - apt_repository: {{repo: \"{LINE}\"{extra}}}\n      register: r\n    - debug: {{var: r}}\n"
    )
}

#[test]
fn a_new_source_is_added_used_kept_and_removed() {
    let Some(root) = root(0) else { return };
    root.sh(
        "cp -a /srv/repo /srv/other && rm /etc/apt/sources.list.d/rollout.list && \
         rm -rf /var/lib/apt/lists/* && apt-get -q update >/dev/null",
    );
    // ansible-core 2.19.14's apt_repository printed the same on this root
    // (a new file's diff against /dev/null; `diff: []` and empty
    // `sources_added` when nothing changed).
    let checked = play(&root, &repo(""), &["--check", "--diff"]);
    assert!(
        checked.recap("debian").contains("changed=1"),
        "{}",
        checked.all()
    );
    checked.assert_says(&format!("+++ after: {FILE}"));
    checked.assert_says("\"before_header\": \"/dev/null\"");
    assert!(
        root.sh(&format!("ls {FILE} 2>/dev/null || true"))
            .is_empty()
    );

    // Added, with the cache updated, so apt finds the package at once.
    let add = format!(
        "{}    - apt: {{name: rollout-hello}}\n",
        repo(", mode: \"0640\"")
    );
    let added = play(&root, &add, &[]);
    assert_eq!(added.code, 0, "{}", added.all());
    assert!(
        added.recap("debian").contains("changed=2"),
        "{}",
        added.all()
    );
    added.assert_says(&format!("\"sources_added\": [\n      \"{FILE}\""));
    assert_eq!(root.sh(&format!("cat {FILE}")), format!("{LINE}\n"));
    assert_eq!(root.sh(&format!("stat -c %a {FILE}")), "640\n");
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));

    let again = play(&root, &repo(""), &[]);
    assert!(
        again.recap("debian").contains("changed=0"),
        "{}",
        again.all()
    );
    again.assert_says("\"diff\": []");
    again.assert_says("\"sources_added\": []");

    let absent = repo(", state: absent");
    let checked = play(&root, &absent, &["--check"]);
    assert!(
        checked.recap("debian").contains("changed=1"),
        "{}",
        checked.all()
    );
    assert_eq!(root.sh(&format!("cat {FILE}")), format!("{LINE}\n"));
    let removed = play(&root, &absent, &[]);
    assert!(
        removed.recap("debian").contains("changed=1"),
        "{}",
        removed.all()
    );
    removed.assert_says(&format!("\"sources_removed\": [\n      \"{FILE}\""));
    assert!(
        root.sh(&format!("ls {FILE} 2>/dev/null || true"))
            .is_empty()
    );
    let gone = play(&root, &absent, &[]);
    assert!(gone.recap("debian").contains("changed=0"), "{}", gone.all());
}

#[test]
fn a_commented_out_source_is_enabled_in_place_and_filename_is_used() {
    let Some(root) = root(1) else { return };
    root.sh("sed -i 's/^/#/' /etc/apt/sources.list.d/rollout.list");
    let line = "deb [trusted=yes] file:/srv/repo ./";
    let enable = format!("    - apt_repository: {{repo: \"{line}\", update_cache: false}}\n");
    let out = play(&root, &enable, &[]);
    assert!(out.recap("debian").contains("changed=1"), "{}", out.all());
    assert_eq!(
        root.sh("cat /etc/apt/sources.list.d/rollout.list"),
        format!("{line}\n")
    );
    let named = "    - apt_repository: {repo: \"deb http://deb.example.invalid/ stable main\", \
                 filename: example, update_cache: false}\n";
    assert!(
        play(&root, named, &[])
            .recap("debian")
            .contains("changed=1")
    );
    assert_eq!(
        root.sh("cat /etc/apt/sources.list.d/example.list"),
        "deb http://deb.example.invalid/ stable main\n"
    );
    let bad = "    - apt_repository: {repo: \"ppa:foo/bar\"}\n";
    let out = play(&root, bad, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("PPA repositories");
}
