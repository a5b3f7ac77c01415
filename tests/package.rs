//! `package` on a disposable Debian root (tests/common/debian_root.rs):
//! which manager's module it runs. apt itself is tested in tests/apt.rs;
//! dnf in tests/dnf.rs and from recorded outputs (src/modules/dnf).

mod common;

use common::debian_root::DebianRoot;

/// Debian-root slots 175-179 and ports 25420-25429 belong to the
/// package-manager tests (tests/apt_repository.rs has 175-176).
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(177 + n, 25422 + u16::from(n))
}

#[test]
fn use_dnf_on_a_debian_host_says_what_is_missing() {
    let Some(root) = root(0) else { return };
    let play = |tasks: &str| {
        root.play(
            "play.yml",
            &format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}"),
            &[],
        )
    };
    // `use: yum` reaches the dnf module (yum is dnf in ansible-core 2.19),
    // which finds no rpm here and says so instead of failing obscurely.
    for manager in ["dnf", "yum"] {
        let out = play(&format!(
            "    - package: {{name: rollout-lib, state: present, use: {manager}}}\n"
        ));
        assert_eq!(out.code, 2, "{}", out.all());
        out.assert_says("rpm is not installed on this host");
    }
    let direct = play("    - yum: {name: rollout-lib}\n");
    assert_eq!(direct.code, 2, "{}", direct.all());
    direct.assert_says("rpm is not installed on this host");
    // The facts say apt: package installs with apt.
    let gathered = root.play(
        "facts.yml",
        "- hosts: debian\n  tasks:\n    - apt: {update_cache: true}\n    \
         - package: {name: rollout-lib, state: present}\n",
        &[],
    );
    assert!(
        gathered.recap("debian").contains("changed=2"),
        "{}",
        gathered.all()
    );
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
}
