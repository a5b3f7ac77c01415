//! `apt` on a disposable Debian root (tests/common/debian_root.rs) with a
//! local repository of rollout-hello and rollout-lib, versions 1.0 and 1.1.
//! Run under the fleet lock: `flock /tmp/rollout-fleet.lock cargo test --test apt`.

mod common;

use common::debian_root::DebianRoot;

/// Loopback ports 25400-25419 belong to these tests, one per test.
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(160 + n, 25400 + u16::from(n))
}

#[test]
fn the_root_is_disposable_and_reached_over_ssh() {
    let Some(root) = root(0) else { return };
    assert_eq!(
        root.sh("echo written > /etc/rollout-marker; cat /etc/rollout-marker"),
        "written\n"
    );
    assert!(!std::path::Path::new("/etc/rollout-marker").exists());
    // Its own PID namespace: sshd is PID 1 there.
    assert_eq!(root.sh("cat /proc/1/comm").trim(), "sshd");
    let target = format!("{}:{}", root.address, root.port);
    drop(root);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        std::net::TcpStream::connect(&target).is_err(),
        "sshd outlived its root"
    );
}

/// A play of `tasks` (YAML, indented by 4) on the root, without facts.
fn play(root: &DebianRoot, tasks: &str, args: &[&str]) -> common::Outcome {
    let text = format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}");
    root.play("play.yml", &text, args)
}

const UPDATE: &str = "    - apt: {update_cache: true}\n";

fn install(spec: &str) -> String {
    format!("    - apt: {{name: \"{spec}\"}}\n")
}

#[test]
fn install_then_latest_each_changes_once_and_records_versions() {
    let Some(root) = root(1) else { return };
    let first = play(
        &root,
        &format!("{UPDATE}{}", install("rollout-hello=1.0")),
        &[],
    );
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(
        first.recap("debian").contains("changed=2"),
        "{}",
        first.stdout
    );
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.0"));
    // The dependency came from the repository's newest version.
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));

    let missing = play(&root, &install("rollout-hello=7.*"), &[]);
    assert_eq!(missing.code, 2, "{}", missing.all());
    missing.assert_says("no available installation candidate for rollout-hello=7.*");
    let again = play(&root, &install("rollout-hello=1.*"), &[]);
    assert!(
        again.recap("debian").contains("changed=0"),
        "{}",
        again.stdout
    );

    let latest = "    - apt: {name: [rollout-hello], state: latest}\n      register: r\n    \
                  - debug: {var: r.packages}\n";
    let up = play(&root, latest, &[]);
    assert!(up.recap("debian").contains("changed=1"), "{}", up.stdout);
    up.assert_says("\"rollout-hello\": {");
    up.assert_says("\"after\": \"1.1\"");
    up.assert_says("\"before\": \"1.0\"");
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
    // The cache updates, but a package already there is no change (Ansible's rule).
    let cached = "    - apt: {name: rollout-hello, update_cache: true}\n      register: r\n    \
                  - debug: {var: r.cache_updated}\n";
    let cached = play(&root, cached, &[]);
    assert!(
        cached.recap("debian").contains("changed=0"),
        "{}",
        cached.stdout
    );
    cached.assert_says("\"r.cache_updated\": true");
    let none = play(&root, latest, &[]);
    assert!(
        none.recap("debian").contains("changed=0"),
        "{}",
        none.stdout
    );
}

#[test]
fn upgrade_dist_patches_everything_then_has_nothing_left() {
    let Some(root) = root(2) else { return };
    let setup = format!("{UPDATE}    - apt: {{name: [rollout-lib=1.0, rollout-hello=1.0]}}\n");
    assert_eq!(play(&root, &setup, &[]).code, 0);
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.0"));
    let upgrade = "    - apt: {upgrade: dist}\n      register: r\n    - debug: {var: r.packages}\n";
    let out = play(&root, upgrade, &["--diff"]);
    assert!(out.recap("debian").contains("changed=1"), "{}", out.stdout);
    out.assert_says("\"rollout-lib\": {");
    // --diff shows apt-get's plan, as Ansible's `prepared`.
    out.assert_says("The following packages will be upgraded:");
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
    let again = play(&root, upgrade, &[]);
    assert!(
        again.recap("debian").contains("changed=0"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_version_glob_installs_the_best_match() {
    let Some(root) = root(11) else { return };
    let out = play(
        &root,
        &format!("{UPDATE}{}", install("rollout-lib=1.*")),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
}

#[test]
fn a_downgrade_is_refused_unless_allowed() {
    let Some(root) = root(3) else { return };
    assert_eq!(
        play(&root, &format!("{UPDATE}{}", install("rollout-hello")), &[]).code,
        0
    );
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
    let refused = play(&root, &install("rollout-hello=1.0"), &[]);
    assert_eq!(refused.code, 2, "{}", refused.all());
    refused.assert_says("--allow-downgrades");
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
    let allowed = "    - apt: {name: rollout-hello=1.0, allow_downgrade: true}\n";
    let out = play(&root, allowed, &[]);
    assert!(out.recap("debian").contains("changed=1"), "{}", out.all());
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.0"));
}

#[test]
fn absent_keeps_configuration_and_purge_removes_it() {
    let Some(root) = root(4) else { return };
    assert_eq!(
        play(&root, &format!("{UPDATE}{}", install("rollout-hello")), &[]).code,
        0
    );
    let absent = "    - apt: {name: rollout-hello, state: absent}\n";
    assert!(
        play(&root, absent, &[])
            .recap("debian")
            .contains("changed=1")
    );
    assert_eq!(root.version("rollout-hello"), None);
    assert!(root.sh("cat /etc/rollout-hello.conf").contains("hello 1.1"));
    assert!(
        play(&root, absent, &[])
            .recap("debian")
            .contains("changed=0")
    );
    let purge = "    - apt: {name: rollout-hello, state: absent, purge: true}\n";
    assert!(
        play(&root, purge, &[])
            .recap("debian")
            .contains("changed=1")
    );
    assert_eq!(
        root.sh("test -e /etc/rollout-hello.conf || echo gone"),
        "gone\n"
    );
    assert!(
        play(&root, purge, &[])
            .recap("debian")
            .contains("changed=0")
    );
}

#[test]
fn check_mode_says_what_would_change_and_changes_nothing() {
    let Some(root) = root(5) else { return };
    assert_eq!(play(&root, UPDATE, &[]).code, 0);
    let tasks =
        "    - apt: {name: rollout-hello}\n      register: r\n    - debug: {var: r.packages}\n";
    let out = play(&root, tasks, &["--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.recap("debian").contains("changed=1"), "{}", out.stdout);
    out.assert_says("\"rollout-hello\": {");
    assert_eq!(root.version("rollout-hello"), None);
    assert_eq!(root.version("rollout-lib"), None);
}

#[test]
fn a_held_dpkg_lock_is_waited_on_then_used() {
    let Some(root) = root(6) else { return };
    assert_eq!(play(&root, UPDATE, &[]).code, 0);
    let mut holder = root.hold_dpkg_lock(3);
    let started = std::time::Instant::now();
    let out = play(
        &root,
        "    - apt: {name: rollout-lib, lock_timeout: 30}\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        started.elapsed().as_secs_f64() > 2.0,
        "apt did not wait on the lock"
    );
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
    holder.wait().unwrap();

    let mut holder = root.hold_dpkg_lock(10);
    let out = play(
        &root,
        "    - apt: {name: rollout-hello, lock_timeout: 1}\n",
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Could not get lock");
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn an_unknown_package_fails_clearly() {
    let Some(root) = root(7) else { return };
    let out = play(
        &root,
        &format!("{UPDATE}{}", install("rollout-nosuch")),
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("No package matching 'rollout-nosuch' is available");
}

#[test]
fn a_deb_file_on_the_host_installs_once() {
    let Some(root) = root(8) else { return };
    let deb = "    - apt: {deb: /srv/repo/rollout-lib_1.0_all.deb}\n";
    let out = play(&root, deb, &[]);
    assert!(out.recap("debian").contains("changed=1"), "{}", out.all());
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.0"));
    assert!(play(&root, deb, &[]).recap("debian").contains("changed=0"));
}

#[test]
fn only_upgrade_autoremove_and_cache_valid_time() {
    let Some(root) = root(9) else { return };
    let fresh = "    - apt: {update_cache: true, cache_valid_time: 3600}\n";
    root.sh("touch -d '2 hours ago' /var/lib/apt/lists");
    let first = play(&root, fresh, &[]);
    assert!(
        first.recap("debian").contains("changed=1"),
        "{}",
        first.all()
    );
    // Updated a moment ago: valid for an hour, not updated again.
    let again = play(&root, fresh, &[]);
    assert!(
        again.recap("debian").contains("changed=0"),
        "{}",
        again.all()
    );

    let only = "    - apt: {name: rollout-hello, only_upgrade: true}\n";
    assert!(play(&root, only, &[]).recap("debian").contains("changed=0"));
    assert_eq!(root.version("rollout-hello"), None);

    // rollout-lib came in as a dependency: once rollout-hello is gone,
    // autoremove takes it.
    assert_eq!(play(&root, &install("rollout-hello"), &[]).code, 0);
    let remove = "    - apt: {name: rollout-hello, state: absent}\n";
    assert_eq!(play(&root, remove, &[]).code, 0);
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
    let autoremove = "    - apt: {autoremove: true}\n";
    assert!(
        play(&root, autoremove, &[])
            .recap("debian")
            .contains("changed=1")
    );
    assert_eq!(root.version("rollout-lib"), None);
    assert!(
        play(&root, autoremove, &[])
            .recap("debian")
            .contains("changed=0")
    );
}

#[test]
fn package_uses_apt_from_the_facts_or_a_probe() {
    let Some(root) = root(10) else { return };
    assert_eq!(play(&root, UPDATE, &[]).code, 0);
    let gathered = root.play(
        "facts.yml",
        "- hosts: debian\n  tasks:\n    - package: {name: rollout-lib, state: present}\n",
        &[],
    );
    assert!(
        gathered.recap("debian").contains("changed=1"),
        "{}",
        gathered.all()
    );
    assert_eq!(root.version("rollout-lib").as_deref(), Some("1.1"));
    // Without facts, the host is probed.
    let probed = play(
        &root,
        "    - package: {name: rollout-lib, state: absent}\n",
        &[],
    );
    assert!(
        probed.recap("debian").contains("changed=1"),
        "{}",
        probed.all()
    );
    assert_eq!(root.version("rollout-lib"), None);
    let other = play(
        &root,
        "    - package: {name: x, state: present, use: zypper}\n",
        &[],
    );
    assert_eq!(other.code, 2);
    other.assert_says("'zypper' is not supported by rollout yet");
}

#[test]
fn a_login_user_patches_through_sudo() {
    let Some(root) = root(12) else { return };
    root.sh(
        "useradd -m -s /bin/sh deploy && usermod -p '*' deploy && \
         echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy",
    );
    let inventory = std::fs::read_to_string(root.path("inventory"))
        .unwrap()
        .replace("ansible_user=root", "ansible_user=deploy");
    std::fs::write(root.path("inventory-deploy"), inventory).unwrap();
    let playbook = format!(
        "- hosts: debian\n  gather_facts: false\n  become: true\n  tasks:\n{UPDATE}{}",
        install("rollout-hello")
    );
    std::fs::write(root.path("become.yml"), playbook).unwrap();
    let out = common::rollout(&[
        "play",
        &root.path("become.yml"),
        "-i",
        &root.path("inventory-deploy"),
        "--ssh-config",
        &root.path("ssh_config"),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
    // Without become, apt-get cannot take dpkg's lock: apt's reason is shown.
    std::fs::write(
        root.path("plain.yml"),
        "- hosts: debian\n  gather_facts: false\n  tasks:\n    - apt: {name: rollout-hello, state: absent}\n",
    )
    .unwrap();
    let plain = common::rollout(&[
        "play",
        &root.path("plain.yml"),
        "-i",
        &root.path("inventory-deploy"),
        "--ssh-config",
        &root.path("ssh_config"),
    ]);
    assert_eq!(plain.code, 2, "{}", plain.all());
    plain.assert_says("are you root?");
    assert_eq!(root.version("rollout-hello").as_deref(), Some("1.1"));
}
