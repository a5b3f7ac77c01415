//! `user`, `group`, `authorized_key`, `known_hosts`, `hostname` and
//! `timezone` on a disposable Debian root (tests/common/debian_root.rs)
//! over real SSH, checked with the root's own tools (`getent`, `id`,
//! `/etc/shadow`, `hostname`, `date`) and, for `authorized_key`, by logging
//! in as the new user with the key through a second sshd in the root.

mod common;

use common::debian_root::DebianRoot;
use std::process::Command;

/// Loopback 127.0.0.185-189 and ports 25440-25449 belong to these tests:
/// root `n` listens on 127.0.0.(185+n):(25440+n); 25446 is the second sshd
/// of the authorized_key test, 25447 the systemd root's.
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(185 + n, 25440 + u16::from(n))
}

/// A play of `tasks` (YAML, indented by 4) on the root, without facts.
fn play(root: &DebianRoot, tasks: &str, args: &[&str]) -> common::Outcome {
    let text = format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}");
    root.play("play.yml", &text, args)
}

#[track_caller]
fn changed(outcome: &common::Outcome, n: usize) {
    let recap = outcome.recap("debian");
    assert!(
        outcome.code == 0 && recap.contains(&format!("changed={n} ")),
        "expected changed={n}: {recap}\n{}",
        outcome.all()
    );
}

/// `openssl passwd -6 -salt rolloutsalt s3cret-Pass`.
const HASH: &str = "$6$rolloutsalt$gYDB39VurHAIw1lPx51AJ8I6HqAWl3gcEsjGXNIr1q8uztmrbK.pe6KVzP1n/mnYdjgRNkbZ8qEmU/vtI5Ihi1";
/// `openssl passwd -6 -salt othersalt other-Pass`.
const OTHER_HASH: &str = "$6$othersalt$r.ZUwynPckDRaEcBVHqT4/8ZiXIfd4yTwMe97R/6poFtb0ku6MSZwn21b.Znda0cddIF7kx12R4LfCXy.BDlE0";

fn create_deploy(password: &str) -> String {
    format!(
        "    - group: {{name: ops, gid: 2500}}\n\
         \x20   - user:\n\
         \x20       name: deploy\n\
         \x20       comment: Deploy User\n\
         \x20       shell: /bin/bash\n\
         \x20       home: /srv/homes/deploy\n\
         \x20       groups: ops,adm\n\
         \x20       password: '{password}'\n\
         \x20     register: created\n\
         \x20   - debug: {{var: created}}\n"
    )
}

#[test]
fn a_user_is_created_changed_checked_and_removed_without_showing_its_hash() {
    let Some(root) = root(0) else { return };
    let first = play(&root, &create_deploy(HASH), &["-vvv"]);
    changed(&first, 2);
    assert!(
        !first.all().contains(HASH),
        "the hash leaked:\n{}",
        first.all()
    );
    assert!(!first.all().contains("gYDB39Vur"), "{}", first.all());
    first.assert_says("\"password\": \"NOT_LOGGING_PASSWORD\"");
    first.assert_says("\"home\": \"/srv/homes/deploy\"");
    first.assert_says("\"create_home\": true");
    assert_eq!(
        root.sh("getent shadow deploy | cut -d: -f2").trim(),
        HASH,
        "the hash is in /etc/shadow"
    );
    let passwd = root.sh("getent passwd deploy");
    assert!(
        passwd
            .trim()
            .ends_with(":Deploy User:/srv/homes/deploy:/bin/bash"),
        "{passwd}"
    );
    let groups = root.sh("id -nG deploy");
    assert!(groups.contains("ops") && groups.contains("adm"), "{groups}");
    assert_eq!(
        root.sh("stat -c '%U %a' /srv/homes/deploy").trim(),
        "deploy 755"
    );
    assert!(root.sh("ls -A /srv/homes/deploy").contains(".bashrc"));

    let again = play(&root, &create_deploy(HASH), &[]);
    changed(&again, 0);

    // append keeps ops and adm; without it the list is replaced.
    let append = "    - user: {name: deploy, groups: [sudo], append: true}\n";
    changed(&play(&root, append, &[]), 1);
    let groups = root.sh("id -nG deploy");
    for g in ["ops", "adm", "sudo"] {
        assert!(groups.contains(g), "{g} in {groups}");
    }
    changed(&play(&root, append, &[]), 0);

    // Check mode reports the change and makes none, password included.
    let shell = format!(
        "    - user: {{name: deploy, shell: /bin/sh, password: '{OTHER_HASH}', uid: 3100}}\n"
    );
    changed(&play(&root, &shell, &["--check"]), 1);
    assert!(
        root.sh("getent passwd deploy")
            .trim()
            .ends_with("/bin/bash")
    );
    assert_eq!(root.sh("getent shadow deploy | cut -d: -f2").trim(), HASH);
    let newuser = "    - user: {name: ghost}\n";
    changed(&play(&root, newuser, &["--check"]), 1);
    assert!(
        root.ssh("getent passwd ghost")
            .output()
            .unwrap()
            .status
            .code()
            == Some(2)
    );

    // For real: the new hash, the uid, the shell; update_password on_create
    // then leaves the password alone.
    let changed_out = play(&root, &shell, &["-v"]);
    changed(&changed_out, 1);
    assert!(!changed_out.all().contains(OTHER_HASH));
    assert_eq!(
        root.sh("getent shadow deploy | cut -d: -f2").trim(),
        OTHER_HASH
    );
    assert_eq!(root.sh("id -u deploy").trim(), "3100");
    let on_create =
        format!("    - user: {{name: deploy, password: '{HASH}', update_password: on_create}}\n");
    changed(&play(&root, &on_create, &[]), 0);
    let lock = "    - user: {name: deploy, password_lock: true}\n";
    changed(&play(&root, lock, &[]), 1);
    assert!(
        root.sh("getent shadow deploy | cut -d: -f2")
            .starts_with('!')
    );
    changed(&play(&root, lock, &[]), 0);

    let remove = "    - user: {name: deploy, state: absent, remove: true}\n      register: r\n    \
                  - debug: {var: r}\n";
    let removed = play(&root, remove, &["-v"]);
    changed(&removed, 1);
    removed.assert_says("\"remove\": true");
    assert_eq!(
        root.ssh("getent passwd deploy")
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        root.sh("test -e /srv/homes/deploy || echo gone").trim(),
        "gone"
    );
    changed(&play(&root, remove, &[]), 0);
}

#[test]
fn an_ssh_key_expiry_ageing_and_a_moved_home() {
    let Some(root) = root(1) else { return };
    let task = "    - user: {name: builder, generate_ssh_key: true, ssh_key_type: ed25519, \
                ssh_key_comment: builder@ci}\n      register: k\n    - debug: {var: k}\n";
    let first = play(&root, task, &[]);
    changed(&first, 1);
    first.assert_says("\"ssh_public_key\": \"ssh-ed25519 ");
    first.assert_says("\"ssh_key_file\": \"/home/builder/.ssh/id_ed25519\"");
    let public = root.sh("cat /home/builder/.ssh/id_ed25519.pub");
    assert!(public.trim().ends_with("builder@ci"), "{public}");
    assert_eq!(
        root.sh("stat -c '%U %a' /home/builder/.ssh /home/builder/.ssh/id_ed25519"),
        "builder 700\nbuilder 600\n"
    );
    let again = play(&root, task, &[]);
    changed(&again, 0);
    again.assert_says(public.split_whitespace().nth(1).unwrap());

    // Expiry (2030-01-01 is day 21915) and password ageing, in /etc/shadow.
    let ageing = "    - user: {name: builder, expires: 1893456000, password_expire_max: 90, \
                  password_expire_min: 1, password_expire_warn: 5}\n";
    changed(&play(&root, ageing, &[]), 1);
    let shadow = root.sh("getent shadow builder | cut -d: -f4,5,6,8");
    assert_eq!(shadow.trim(), "1:90:5:21915");
    changed(&play(&root, ageing, &[]), 0);
    let never = "    - user: {name: builder, expires: -1}\n";
    changed(&play(&root, never, &[]), 1);
    assert_eq!(root.sh("getent shadow builder | cut -d: -f8").trim(), "");
    changed(&play(&root, never, &[]), 0);

    // move_home takes the key along.
    let moved = "    - user: {name: builder, home: /srv/builder, move_home: true}\n";
    changed(&play(&root, moved, &[]), 1);
    assert_eq!(root.sh("test -e /home/builder || echo gone").trim(), "gone");
    assert_eq!(root.sh("cat /srv/builder/.ssh/id_ed25519.pub"), public);
    changed(&play(&root, moved, &[]), 0);
}

#[test]
fn a_group_is_created_renumbered_and_removed_and_bad_input_fails_clearly() {
    let Some(root) = root(2) else { return };
    let create = "    - group: {name: web, gid: 2600}\n      register: g\n    - debug: {var: g}\n";
    changed(&play(&root, create, &["--check"]), 1);
    assert_eq!(
        root.ssh("getent group web").output().unwrap().status.code(),
        Some(2)
    );
    let first = play(&root, create, &[]);
    changed(&first, 1);
    first.assert_says("\"gid\": 2600");
    assert_eq!(root.sh("getent group web").trim(), "web:x:2600:");
    changed(&play(&root, create, &[]), 0);
    let renumber = "    - group: {name: web, gid: 2601}\n";
    changed(&play(&root, renumber, &[]), 1);
    assert_eq!(root.sh("getent group web").trim(), "web:x:2601:");
    let system = "    - group: {name: svc, system: true}\n";
    changed(&play(&root, system, &[]), 1);
    let gid: u32 = root
        .sh("getent group svc | cut -d: -f3")
        .trim()
        .parse()
        .unwrap();
    assert!(gid < 1000, "a system group: {gid}");
    let remove = "    - group: {name: web, state: absent}\n";
    changed(&play(&root, remove, &[]), 1);
    assert_eq!(
        root.ssh("getent group web").output().unwrap().status.code(),
        Some(2)
    );
    changed(&play(&root, remove, &[]), 0);

    // Bad input, on the same root: a clear failure, nothing changed.
    let cases = [
        (
            "    - user: {name: deploy, groups: [nosuch]}\n",
            "Group nosuch does not exist",
        ),
        (
            "    - user: {name: deploy, group: nosuch}\n",
            "Group nosuch does not exist",
        ),
        (
            "    - user: {name: 'bad name'}\n",
            "invalid user name 'bad name'",
        ),
        ("    - user: {name: 'a/b'}\n", "invalid user name 'a/b'"),
        // useradd's own refusal, passed on.
        (
            "    - user: {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
            "useradd: invalid user name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
        ),
        ("    - group: {name: '-rf'}\n", "invalid group name '-rf'"),
        (
            "    - timezone: {name: Nowhere/Zone}\n",
            "given timezone \\\"Nowhere/Zone\\\" is not available",
        ),
        ("    - hostname: {name: 'a;b'}\n", "invalid hostname 'a;b'"),
        (
            "    - authorized_key: {user: nobody2, key: 'ssh-ed25519 AAAA'}\n",
            "Failed to lookup user nobody2",
        ),
        (
            "    - authorized_key: {user: root, key: 'not a key', path: /tmp/k}\n",
            "invalid key specified",
        ),
    ];
    for (task, says) in cases {
        let out = play(&root, task, &[]);
        assert_eq!(out.code, 2, "{task}: {}", out.all());
        out.assert_says(says);
    }
    assert_eq!(
        root.ssh("getent passwd deploy")
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

/// `ssh USER@root -p PORT id -un` with `key`, on the second sshd.
fn login(root: &DebianRoot, port: u16, user: &str, key: &std::path::Path) -> Option<String> {
    let out = Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ])
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args(["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-i"])
        .arg(key)
        .args([
            "-p",
            &port.to_string(),
            &format!("{user}@{}", root.address),
            "id -un",
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn keypair(root: &DebianRoot, name: &str) -> (std::path::PathBuf, String) {
    let path = root.dir.join(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_string())
}

#[test]
fn an_authorized_key_lets_its_user_log_in_and_exclusive_removes_the_others() {
    let Some(root) = root(3) else { return };
    let (first_key, first_pub) = keypair(&root, "first");
    let (second_key, second_pub) = keypair(&root, "second");
    // A second sshd in the root that reads each user's own authorized_keys
    // (the root's main sshd reads only root's key file).
    let port = 25446;
    root.sh(&format!(
        "/usr/sbin/sshd -p {port} -o ListenAddress={} -o AuthorizedKeysFile=.ssh/authorized_keys \
         -o UsePAM=no -o PidFile=/run/sshd-users.pid",
        root.address
    ));
    let tasks = format!(
        "    - user: {{name: alice, shell: /bin/bash, password: '{HASH}'}}\n\
         \x20   - authorized_key: {{user: alice, key: '{first_pub}'}}\n\
         \x20     register: k\n\
         \x20   - debug: {{var: k}}\n"
    );
    let first = play(&root, &tasks, &["--diff"]);
    changed(&first, 2);
    first.assert_says("\"keyfile\": \"/home/alice/.ssh/authorized_keys\"");
    assert_eq!(
        root.sh("stat -c '%U %G %a' /home/alice/.ssh /home/alice/.ssh/authorized_keys"),
        "alice alice 700\nalice alice 600\n"
    );
    assert_eq!(
        login(&root, port, "alice", &first_key).as_deref(),
        Some("alice")
    );
    assert_eq!(login(&root, port, "alice", &second_key), None);
    changed(&play(&root, &tasks, &[]), 0);

    let add = format!("    - authorized_key: {{user: alice, key: '{second_pub}'}}\n");
    changed(&play(&root, &add, &[]), 1);
    assert_eq!(
        login(&root, port, "alice", &second_key).as_deref(),
        Some("alice")
    );
    assert_eq!(
        login(&root, port, "alice", &first_key).as_deref(),
        Some("alice")
    );

    let exclusive =
        format!("    - authorized_key: {{user: alice, key: '{second_pub}', exclusive: true}}\n");
    changed(&play(&root, &exclusive, &["--check"]), 1);
    assert_eq!(
        login(&root, port, "alice", &first_key).as_deref(),
        Some("alice")
    );
    changed(&play(&root, &exclusive, &[]), 1);
    assert_eq!(login(&root, port, "alice", &first_key), None);
    assert_eq!(
        login(&root, port, "alice", &second_key).as_deref(),
        Some("alice")
    );
    changed(&play(&root, &exclusive, &[]), 0);

    let absent =
        format!("    - authorized_key: {{user: alice, key: '{second_pub}', state: absent}}\n");
    changed(&play(&root, &absent, &[]), 1);
    assert_eq!(login(&root, port, "alice", &second_key), None);
    assert_eq!(root.sh("cat /home/alice/.ssh/authorized_keys"), "");
}

#[test]
fn hostname_timezone_and_known_hosts_change_once() {
    let Some(root) = root(4) else { return };
    let ours = Command::new("hostname").output().unwrap().stdout;
    let name = "    - hostname: {name: web-7.example}\n      register: h\n    - debug: {var: h}\n";
    changed(&play(&root, name, &["--check"]), 1);
    assert_ne!(root.sh("hostname").trim(), "web-7.example");
    let first = play(&root, name, &["--diff"]);
    changed(&first, 1);
    first.assert_says("\"ansible_hostname\": \"web-7\"");
    assert_eq!(root.sh("hostname").trim(), "web-7.example");
    assert_eq!(root.sh("cat /etc/hostname"), "web-7.example\n");
    changed(&play(&root, name, &[]), 0);
    assert_eq!(Command::new("hostname").output().unwrap().stdout, ours);

    let tz = "    - timezone: {name: Asia/Tokyo}\n      register: t\n    - debug: {var: t}\n";
    changed(&play(&root, tz, &["--check"]), 1);
    assert_eq!(root.sh("date +%Z").trim(), "UTC");
    let first = play(&root, tz, &[]);
    changed(&first, 1);
    first.assert_says("\"name\": \"Asia/Tokyo\"");
    assert_eq!(
        root.sh("readlink /etc/localtime").trim(),
        "/usr/share/zoneinfo/Asia/Tokyo"
    );
    assert_eq!(root.sh("date +%Z").trim(), "JST");
    assert_eq!(root.sh("cat /etc/timezone").trim(), "Asia/Tokyo");
    changed(&play(&root, tz, &[]), 0);

    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui";
    let kh = format!(
        "    - known_hosts: {{name: git.example, key: 'git.example {key}', hash_host: true}}\n"
    );
    changed(&play(&root, &kh, &[]), 1);
    changed(&play(&root, &kh, &[]), 0);
    assert!(
        root.sh("ssh-keygen -F git.example")
            .contains(key.split(' ').nth(1).unwrap())
    );
}

#[test]
fn on_a_systemd_root_without_dbus_hostname_says_what_to_do_and_timezone_uses_the_files() {
    let Some(root) = DebianRoot::up_systemd(189, 25447) else {
        return;
    };
    assert_eq!(root.sh("cat /proc/1/comm").trim(), "systemd");
    // systemd runs, so hostnamectl is Ansible's choice; without D-Bus it
    // cannot work, and the failure says so and names the way out.
    let auto = play(&root, "    - hostname: {name: db-1}\n", &[]);
    assert_eq!(auto.code, 2, "{}", auto.all());
    auto.assert_says("use: generic writes /etc/hostname");
    let generic = "    - hostname: {name: db-1, use: generic}\n";
    changed(&play(&root, generic, &[]), 1);
    assert_eq!(root.sh("hostname").trim(), "db-1");
    assert_eq!(root.sh("cat /etc/hostname"), "db-1\n");
    changed(&play(&root, generic, &[]), 0);
    // timedatectl cannot reach timedated either: the Debian files, as Ansible.
    let tz = "    - timezone: {name: Europe/Paris}\n";
    changed(&play(&root, tz, &[]), 1);
    assert_eq!(
        root.sh("readlink /etc/localtime").trim(),
        "/usr/share/zoneinfo/Europe/Paris"
    );
    assert!(["CET", "CEST"].contains(&root.sh("date +%Z").trim()));
    changed(&play(&root, tz, &[]), 0);
}
