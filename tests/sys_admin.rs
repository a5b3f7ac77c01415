//! `sysctl`, `cron`, `mount` and `git` on a disposable Debian root
//! (tests/common/debian_root.rs) over real SSH, with the root's own tools:
//! sysctl sets IPC keys, which are per IPC namespace (the root's sshd has
//! its own), mounts happen in the root's mount namespace, crontabs go
//! through the root's `crontab`. The expected crontab and fstab texts are
//! what ansible-playbook (ansible-core 2.19.14, ansible.posix 2.1.0) wrote
//! running the same tasks on such a root. `synchronize` is refused at load.

mod common;

use common::debian_root::DebianRoot;

/// Loopback ports 25450-25454 belong to these tests, one per test.
fn root(n: u8) -> Option<DebianRoot> {
    DebianRoot::up(190 + n, 25450 + u16::from(n))
}

/// A play of `tasks` (YAML, indented by 4) on the root, without facts.
fn play(root: &DebianRoot, tasks: &str, args: &[&str]) -> common::Outcome {
    let text = format!("- hosts: debian\n  gather_facts: false\n  tasks:\n{tasks}");
    root.play("play.yml", &text, args)
}

#[track_caller]
fn assert_changed(out: &common::Outcome, n: usize) {
    assert_eq!(out.code, 0, "{}", out.all());
    let recap = out.recap("debian");
    assert!(
        recap.contains(&format!("changed={n} ")),
        "{recap}\n{}",
        out.stdout
    );
}

fn this_machine(key: &str) -> String {
    let out = std::process::Command::new("sysctl")
        .args(["-n", key])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn sysctl_sets_an_ipc_key_in_the_roots_namespace_and_its_file() {
    let Some(root) = root(0) else { return };
    let ours = this_machine("kernel.msgmax");
    let before = root.sh("sysctl -n kernel.msgmax");
    let task =
        "    - ansible.posix.sysctl: {name: kernel.msgmax, value: '16384', sysctl_set: true}\n";
    let check = play(&root, task, &["--check"]);
    assert_changed(&check, 1);
    assert_eq!(root.sh("sysctl -n kernel.msgmax"), before);
    assert!(!root.sh("cat /etc/sysctl.conf").contains("kernel.msgmax"));

    assert_changed(&play(&root, task, &[]), 1);
    assert_eq!(root.sh("sysctl -n kernel.msgmax").trim(), "16384");
    // As Ansible's run on such a root: the line appended after the
    // file's comments, which stay as they were.
    let conf = root.sh("cat /etc/sysctl.conf");
    assert!(
        conf.ends_with("#kernel.sysrq=438\n\nkernel.msgmax=16384\n"),
        "{conf}"
    );
    assert!(conf.starts_with("#\n# /etc/sysctl.conf - Configuration file"));
    assert_changed(&play(&root, task, &[]), 0);
    // The key is the root's own: this machine's is untouched.
    assert_eq!(this_machine("kernel.msgmax"), ours);

    // A value changed behind the file's back is set again (reload: -p).
    root.sh("sysctl -q -w kernel.msgmax=9000");
    let reload = "    - sysctl: {name: kernel.msgmax, value: '16384'}\n";
    assert_changed(&play(&root, reload, &[]), 1);
    assert_eq!(root.sh("sysctl -n kernel.msgmax").trim(), "16384");

    let absent = "    - sysctl: {name: kernel.msgmax, state: absent, reload: false}\n";
    assert_changed(&play(&root, absent, &[]), 1);
    assert!(!root.sh("cat /etc/sysctl.conf").contains("kernel.msgmax"));
    assert_changed(&play(&root, absent, &[]), 0);

    // A key the kernel does not have: the live set fails, nothing written.
    let bad = "    - sysctl: {name: kernel.rollout_nosuchkey, value: '1', sysctl_set: true}\n";
    let out = play(&root, bad, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("setting kernel.rollout_nosuchkey failed");
    assert!(!root.sh("cat /etc/sysctl.conf").contains("nosuchkey"));
    assert_eq!(this_machine("kernel.msgmax"), ours);
}

const CRON_TASKS: &str = "    - cron: {name: nightly, job: /usr/local/bin/backup, hour: '2', minute: '30'}\n    \
     - cron: {name: MAILTO, env: true, job: ops@example.com}\n    \
     - cron: {name: PATH, env: true, job: '/usr/bin:/bin', insertafter: MAILTO}\n    \
     - cron: {name: reboot, special_time: reboot, job: /usr/local/bin/up, disabled: true}\n    \
     - cron: {name: www job, job: echo hi, user: www-data, cron_file: rollout-test, weekday: '1-5'}\n";

/// What ansible-playbook left after CRON_TASKS on such a root.
const ANSIBLE_CRONTAB: &str = "MAILTO=\"ops@example.com\"\nPATH=\"/usr/bin:/bin\"\n\
     #Ansible: nightly\n30 2 * * * /usr/local/bin/backup\n#Ansible: reboot\n#@reboot /usr/local/bin/up\n";
const ANSIBLE_CRON_FILE: &str = "#Ansible: www job\n* * * * 1-5 www-data echo hi\n";

#[test]
fn cron_writes_what_ansible_writes_and_manages_ansibles_crontab() {
    let Some(root) = root(1) else { return };
    let out = play(&root, CRON_TASKS, &["--diff"]);
    assert_changed(&out, 5);
    out.assert_says("+30 2 * * * /usr/local/bin/backup");
    assert_eq!(root.sh("crontab -l"), ANSIBLE_CRONTAB);
    assert_eq!(root.sh("cat /etc/cron.d/rollout-test"), ANSIBLE_CRON_FILE);
    assert_changed(&play(&root, CRON_TASKS, &[]), 0);

    // A crontab Ansible wrote for another user (`crontab -u`) is found by
    // its markers and edited in place.
    root.sh(&format!(
        "printf '%s' '{}' | crontab -u www-data -",
        ANSIBLE_CRONTAB.replace('\'', "'\\''")
    ));
    let update = "    - cron: {name: nightly, user: www-data, job: /usr/local/bin/backup, hour: '3', minute: '30'}\n      \
                  register: r\n    - debug: {var: r.jobs}\n";
    let out = play(&root, update, &[]);
    assert_changed(&out, 1);
    out.assert_says("\"nightly\",");
    let tab = root.sh("crontab -u www-data -l");
    assert_eq!(tab, ANSIBLE_CRONTAB.replace("30 2 *", "30 3 *"));

    // Removed: the job and its marker; the cron file goes with its last job.
    let remove = "    - cron: {name: reboot, state: absent}\n    \
                  - cron: {name: www job, cron_file: rollout-test, state: absent}\n    \
                  - cron: {name: MAILTO, env: true, state: absent}\n";
    let check = play(&root, remove, &["--check"]);
    assert_changed(&check, 3);
    assert_eq!(root.sh("crontab -l"), ANSIBLE_CRONTAB);
    assert_changed(&play(&root, remove, &[]), 3);
    assert_eq!(
        root.sh("crontab -l"),
        "PATH=\"/usr/bin:/bin\"\n#Ansible: nightly\n30 2 * * * /usr/local/bin/backup\n"
    );
    assert_eq!(
        root.sh("test -e /etc/cron.d/rollout-test || echo gone"),
        "gone\n"
    );
    assert_changed(&play(&root, remove, &[]), 0);

    // backup: the crontab as it was, in a temp file on the host.
    let backed = "    - cron: {name: hourly, special_time: hourly, job: /bin/true, backup: true}\n      \
                  register: r\n    - copy: {content: '{{ r.backup_file }}', dest: /tmp/backup_path}\n";
    let before = root.sh("crontab -l");
    assert_changed(&play(&root, backed, &[]), 2);
    let path = root.sh("cat /tmp/backup_path");
    assert!(path.starts_with("/tmp/crontab"), "{path}");
    assert_eq!(root.sh(&format!("cat '{path}'")), before);
    assert!(
        root.sh("crontab -l")
            .ends_with("#Ansible: hourly\n@hourly /bin/true\n")
    );

    let bad = "    - cron: {name: x, job: y, special_time: daily, hour: '1'}\n";
    let out = play(&root, bad, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("You cannot combine special_time with any of the time or day/date parameters.");
}

#[test]
fn mount_mounts_a_tmpfs_in_the_roots_namespace_and_keeps_fstab() {
    let Some(root) = root(2) else { return };
    let mounted = |size: &str| {
        format!(
            "    - ansible.posix.mount: {{path: /mnt/scratch, src: tmpfs, fstype: tmpfs, \
             opts: 'size={size}', state: mounted}}\n"
        )
    };
    let info = || root.sh("grep ' /mnt/scratch ' /proc/self/mountinfo || true");
    let check = play(&root, &mounted("1m"), &["--check"]);
    assert_changed(&check, 1);
    assert_eq!(info(), "");

    assert_changed(&play(&root, &mounted("1m"), &[]), 1);
    assert!(info().contains("tmpfs tmpfs rw,size=1024k"), "{}", info());
    assert_eq!(
        root.sh("cat /etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\ntmpfs /mnt/scratch tmpfs size=1m 0 0\n"
    );
    assert_changed(&play(&root, &mounted("1m"), &[]), 0);
    // New options: fstab corrected and the mount remounted with them.
    assert_changed(&play(&root, &mounted("2m"), &[]), 1);
    assert!(info().contains("size=2048k"), "{}", info());
    // Not this machine's mount.
    let ours = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!ours.contains(" /mnt/scratch "));

    let unmounted = "    - mount: {path: /mnt/scratch, state: unmounted}\n";
    assert_changed(&play(&root, unmounted, &[]), 1);
    assert_eq!(info(), "");
    assert_changed(&play(&root, unmounted, &[]), 0);
    assert!(root.sh("cat /etc/fstab").contains("/mnt/scratch"));

    let absent = "    - mount: {path: /mnt/scratch, state: absent}\n";
    assert_changed(&play(&root, &mounted("2m"), &[]), 1);
    assert_changed(&play(&root, absent, &[]), 1);
    assert_eq!(info(), "");
    assert_eq!(
        root.sh("cat /etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
    assert_eq!(root.sh("test -e /mnt/scratch || echo gone"), "gone\n");
    assert_changed(&play(&root, absent, &[]), 0);

    // ephemeral: mounted without fstab, remounted on every run (always
    // changed, as Ansible); another source on the same point fails.
    let eph = |src: &str| {
        format!(
            "    - mount: {{path: /mnt/eph, src: {src}, fstype: tmpfs, opts: size=1m, state: ephemeral}}\n"
        )
    };
    let eph_info = || root.sh("grep ' /mnt/eph ' /proc/self/mountinfo || true");
    assert_changed(&play(&root, &eph("tmpfs"), &[]), 1);
    assert!(eph_info().contains("size=1024k"), "{}", eph_info());
    assert_changed(&play(&root, &eph("tmpfs"), &[]), 1);
    let out = play(&root, &eph("other"), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("already mounted with a different source");
    let remount = "    - mount: {path: /mnt/eph, state: remounted, opts: size=3m}\n";
    assert_changed(&play(&root, remount, &[]), 1);
    assert!(eph_info().contains("size=3072k"), "{}", eph_info());
    assert_eq!(
        root.sh("cat /etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
    assert_changed(
        &play(
            &root,
            "    - mount: {path: /mnt/eph, state: unmounted}\n",
            &[],
        ),
        1,
    );

    // A mount that fails puts fstab back and removes the directory it made.
    let broken =
        "    - mount: {path: /mnt/a/b, src: /dev/rollout-none, fstype: ext4, state: mounted}\n";
    let out = play(&root, broken, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Error mounting /mnt/a/b");
    assert_eq!(
        root.sh("cat /etc/fstab"),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
    assert_eq!(root.sh("test -e /mnt/a || echo gone"), "gone\n");
}

/// A bare repository in the root with tags v1 and v2 (fixed dates: the
/// same SHAs every run), and a third commit on main.
const ORIGIN: &str = "set -e; export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
     GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e; \
     git init -q --bare -b main /srv/app.git; git init -q -b main /tmp/w; cd /tmp/w; \
     echo 1 > f; git add f; git commit -q -m one; git tag v1; \
     echo 2 > f; git commit -q -am two; git tag -a v2 -m v2; \
     echo 3 > f; git commit -q -am three; \
     git remote add origin /srv/app.git; git push -q origin main --tags; git rev-parse HEAD v1";

#[test]
fn git_clones_updates_to_a_tag_refuses_local_changes_without_force() {
    let Some(root) = root(3) else { return };
    let shas = root.sh(ORIGIN);
    let mut shas = shas.lines();
    let (head, v1) = (shas.next().unwrap(), shas.next().unwrap());
    let clone = "    - git: {repo: /srv/app.git, dest: /opt/app}\n      register: r\n    \
                 - debug: {var: r}\n";
    let check = play(&root, clone, &["--check"]);
    assert_changed(&check, 1);
    check.assert_says(&format!("\"after\": \"{head}\""));
    assert_eq!(root.sh("test -e /opt/app || echo none"), "none\n");

    let out = play(&root, clone, &["--diff"]);
    assert_changed(&out, 1);
    out.assert_says("\"before\": null");
    out.assert_says(&format!(">> Newly checked out {head}"));
    assert_eq!(root.sh("cat /opt/app/f"), "3\n");
    let again = play(&root, clone, &[]);
    assert_changed(&again, 0);
    again.assert_says("\"remote_url_changed\": false");

    let tag = "    - git: {repo: /srv/app.git, dest: /opt/app, version: v1}\n      register: r\n    \
               - debug: {var: r}\n";
    let out = play(&root, tag, &["--diff"]);
    assert_changed(&out, 1);
    out.assert_says(&format!("\"before\": \"{head}\""));
    out.assert_says(&format!("\"after\": \"{v1}\""));
    out.assert_says("-3");
    assert_eq!(root.sh("cat /opt/app/f"), "1\n");
    assert_changed(&play(&root, tag, &[]), 0);

    root.sh("echo local > /opt/app/f");
    let out = play(&root, tag, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Local modifications exist in the destination: /opt/app (force=no).");
    assert_eq!(root.sh("cat /opt/app/f"), "local\n");
    let forced = "    - git: {repo: /srv/app.git, dest: /opt/app, version: v2, force: true}\n";
    assert_changed(&play(&root, forced, &[]), 1);
    assert_eq!(root.sh("cat /opt/app/f"), "2\n");
    assert_changed(&play(&root, forced, &[]), 0);

    // Over SSH to the root's own sshd: an unknown host key fails (BatchMode,
    // accept_hostkey off by default); accept_newhostkey with key_file works.
    let key = std::fs::read_to_string(root.path("id_ed25519")).unwrap();
    root.sh(&format!(
        "umask 077; mkdir -p /root/.ssh; printf '%s' '{key}' > /root/deploy_key"
    ));
    let url = format!("ssh://root@{}:{}/srv/app.git", root.address, root.port);
    let ssh = |extra: &str| {
        format!(
            "    - git: {{repo: '{url}', dest: /opt/viassh, key_file: /root/deploy_key{extra}}}\n"
        )
    };
    let out = play(&root, &ssh(""), &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Host key verification failed");
    assert_changed(&play(&root, &ssh(", accept_newhostkey: true"), &[]), 1);
    assert_eq!(root.sh("cat /opt/viassh/f"), "3\n");
    assert_changed(&play(&root, &ssh(""), &[]), 0);
}

#[test]
fn synchronize_is_refused_at_load_with_what_to_use_instead() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::play_local("errors/synchronize.yaml", dir.path(), &["--syntax-check"]);
    assert_eq!(out.code, 4, "{}", out.all());
    for needle in [
        "module 'ansible.posix.synchronize' is not supported",
        "synchronize.yaml:6:7",
        "'copy'",
        "'unarchive'",
        "delegate_to: localhost",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
    let out = common::play_local("errors/synchronize.yaml", dir.path(), &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        !dir.path().join("ran").exists(),
        "a task ran before the error"
    );
}
