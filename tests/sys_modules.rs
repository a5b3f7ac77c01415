//! System modules over real OpenSSH hosts (tests/bed): a jump host, `raw`,
//! `script`, `service` through a throwaway SysV init script, and `reboot`
//! with a fake reboot that only drops the SSH session. Nothing here touches
//! a real system service or reboots anything.

mod common;

use common::fleet::Fleet;
use std::fs;

#[test]
fn a_jump_host_carries_the_connection() {
    let fleet = Fleet::up(2, 20);
    let (h1, h2) = (fleet.host(0), fleet.host(1));
    let key = fleet.info["keys"]["id_ed25519"].as_str().unwrap();
    let inventory = fleet.write(
        "jump_inventory",
        &format!(
            "[targets]\nhost2 ansible_host={} ansible_port={} ansible_user=rollout-deploy \
             ansible_ssh_private_key_file={key} bed_root={} \
             ansible_ssh_common_args='-o ProxyJump=rollout-deploy@{}:{}'\n",
            h2["address"].as_str().unwrap(),
            h2["port"],
            fleet.root(1).display(),
            h1["address"].as_str().unwrap(),
            h1["port"],
        ),
    );
    let pb = fleet.write(
        "jump.yaml",
        "- hosts: targets\n  tasks:\n    - command: touch {{ bed_root }}/via-jump\n",
    );
    let log1 = fleet.dir.join("host1/sshd.log");
    let accepted = || {
        fs::read_to_string(&log1)
            .unwrap_or_default()
            .matches("Accepted publickey")
            .count()
    };
    let before = accepted();
    let out = fleet.play_with(&inventory, &pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(fleet.root(1).join("via-jump").exists());
    assert!(
        accepted() > before,
        "host1 (the jump host) saw no login; its log:\n{}",
        fs::read_to_string(&log1).unwrap_or_default()
    );
}

#[test]
fn raw_and_script_run_on_the_host() {
    let fleet = Fleet::up(1, 21);
    fs::create_dir_all(fleet.dir.join("files")).unwrap();
    fs::write(
        fleet.dir.join("files/mk.sh"),
        "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$2\"\necho \"$0\" > \"$2.self\"\npwd\n",
    )
    .unwrap();
    let pb = fleet.write(
        "rs.yaml",
        r#"
- hosts: web
  tasks:
    - raw: echo $((2 + 3)) > {{ bed_root }}/raw.txt; echo hi
      register: r
    - assert: { that: "r.stdout | trim == 'hi' and r.rc == 0" }
    - raw: echo $0
      args: { executable: /bin/bash }
      register: b
    - assert: { that: "'bash' in b.stdout" }
    - script: mk.sh "a b; c" {{ bed_root }}/script.txt
      args: { chdir: "{{ bed_root }}" }
      register: s
    - assert: { that: "s.stdout | trim == bed_root" }
    - script: mk.sh again {{ bed_root }}/script.txt
      args: { creates: "{{ bed_root }}/script.txt" }
      register: s2
    - assert: { that: "not s2.changed" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let root = fleet.root(0);
    assert_eq!(fs::read_to_string(root.join("raw.txt")).unwrap(), "5\n");
    assert_eq!(
        fs::read_to_string(root.join("script.txt")).unwrap(),
        "a b; c\n"
    );
    let uploaded = fs::read_to_string(root.join("script.txt.self")).unwrap();
    assert!(uploaded.contains("rollout-script."), "{uploaded}");
    assert!(
        !std::path::Path::new(uploaded.trim()).exists(),
        "the uploaded script was not removed: {uploaded}"
    );
}

/// A SysV init script for a `sleep`, removed (and its process killed) when
/// the test ends.
struct InitScript {
    path: std::path::PathBuf,
    pidfile: std::path::PathBuf,
}

impl Drop for InitScript {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(&self.pidfile) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
        let _ = fs::remove_file(&self.path);
    }
}

#[test]
fn service_uses_the_init_script_and_is_idempotent() {
    let fleet = Fleet::up(1, 22);
    let root = fleet.root(0);
    let name = format!("rollout-test-svc-{}", std::process::id());
    let pidfile = root.join("svc.pid");
    let log = root.join("svc.log");
    let script = format!(
        r#"#!/bin/sh
PIDFILE={pid}
running() {{ [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start) running && exit 0
         setsid sleep 600 </dev/null >/dev/null 2>&1 &
         echo $! > "$PIDFILE"; echo start >> {log} ;;
  stop) running && kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE"; echo stop >> {log} ;;
  restart) "$0" stop; "$0" start ;;
  status) running || exit 3 ;;
  *) exit 2 ;;
esac
"#,
        pid = pidfile.display(),
        log = log.display()
    );
    let guard = InitScript {
        path: format!("/etc/init.d/{name}").into(),
        pidfile: pidfile.clone(),
    };
    fs::write(&guard.path, script).unwrap();
    std::process::Command::new("chmod")
        .args(["755", guard.path.to_str().unwrap()])
        .status()
        .unwrap();

    let pb = fleet.write(
        "svc.yaml",
        &format!(
            r#"
- hosts: web
  become: true
  tasks:
    - service: {{ name: {name}, state: started }}
      register: a
    - service: {{ name: {name}, state: started }}
      register: b
    - assert: {{ that: ["a.changed", "not b.changed", "a.state == 'started'"] }}
"#
        ),
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let pid = fs::read_to_string(&pidfile).unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "the service's process is not running"
    );

    // --check reports a change and does nothing.
    let stop = fleet.write("stop.yaml",
        &format!(
            "- hosts: web\n  become: true\n  tasks:\n    - service: {{ name: {name}, state: stopped }}\n    - service: {{ name: {name}, state: stopped }}\n"
        ),
    );
    let out = fleet.play(&stop, &["--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.recap("host1").contains("changed=2"), "{}", out.all());
    assert!(pidfile.exists(), "check mode stopped the service");

    let out = fleet.play(&stop, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.recap("host1").contains("changed=1"), "{}", out.all());
    assert!(!pidfile.exists());
    assert_eq!(fs::read_to_string(&log).unwrap(), "start\nstop\n");
}

#[test]
fn reboot_waits_for_the_host_to_come_back() {
    let fleet = Fleet::up(1, 23);
    let root = fleet.root(0);
    fs::write(root.join("boot_id"), "boot-1\n").unwrap();
    // Written here by root; the deploy user's "reboot" rewrites it.
    std::process::Command::new("chmod")
        .args(["666", root.join("boot_id").to_str().unwrap()])
        .status()
        .unwrap();
    // The "reboot": a new boot id, then the SSH session's own sshd process
    // is killed, which drops the connection the way a reboot does.
    let pb = fleet.write(
        "reboot.yaml",
        r#"
- hosts: web
  tasks:
    - reboot:
        reboot_timeout: 60
        connect_timeout: 5
        boot_time_command: cat {{ bed_root }}/boot_id
        reboot_command: >-
          echo boot-2 > {{ bed_root }}/boot_id;
          p=$$; while [ "$p" -gt 1 ]; do
          case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; exit 0;; esac;
          p=$(cut -d' ' -f4 /proc/$p/stat); done
      register: r
    - assert: { that: ["r.rebooted", "r.changed"] }
    - command: cat {{ bed_root }}/boot_id
      register: id
    - assert: { that: "id.stdout == 'boot-2'" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(root.join("boot_id")).unwrap(),
        "boot-2\n"
    );
    assert!(
        std::path::Path::new(&format!("/proc/{}", fleet.sshd_pid(0))).exists(),
        "the host's sshd listener must survive the fake reboot"
    );
}

#[test]
fn file_rewrites_keep_setuid_bits_and_follow_symlinks() {
    let fleet = Fleet::up(1, 24);
    let root = fleet.root(0);
    let pb = fleet.write(
        "rewrite.yaml",
        r#"
- hosts: web
  become: true
  vars:
    f: "{{ bed_root }}/suid"
  tasks:
    - copy: { content: "x\n", dest: "{{ f }}", mode: "04755", owner: rollout-deploy, group: rollout-deploy }
    - name: only the owner changes (attributes in place)
      copy: { content: "x\n", dest: "{{ f }}", mode: "04755", owner: root, group: root }
    - stat: { path: "{{ f }}" }
      register: a
    - name: content and owner change (a new file)
      copy: { content: "y\n", dest: "{{ f }}", mode: "06755", owner: rollout-deploy }
    - stat: { path: "{{ f }}" }
      register: b
    - file: { path: "{{ f }}", mode: "04755", owner: root, group: root }
    - file: { path: "{{ f }}", mode: "04755", owner: root, group: root }
      register: again
    - stat: { path: "{{ f }}" }
      register: c
    - assert:
        that:
          - a.stat.mode == '4755' and a.stat.pw_name == 'root'
          - b.stat.mode == '6755' and b.stat.pw_name == 'rollout-deploy'
          - c.stat.mode == '4755' and not again.changed
    - copy: { content: "a=1\n", dest: "{{ bed_root }}/real.conf" }
    - file: { src: "{{ bed_root }}/real.conf", dest: "{{ bed_root }}/link.conf", state: link }
    - lineinfile: { path: "{{ bed_root }}/link.conf", line: "b=2" }
    - command: cat {{ bed_root }}/real.conf
      register: edited
    - assert: { that: "edited.stdout == 'a=1\\nb=2'" }
    - copy: { content: "c=3\n", dest: "{{ bed_root }}/link.conf", follow: true }
    - file: { src: "{{ bed_root }}/real.conf", dest: "{{ bed_root }}/other.conf", state: link }
    - name: without follow, copy replaces the link (as Ansible)
      copy: { content: "e=5\n", dest: "{{ bed_root }}/other.conf" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    let link = root.join("link.conf");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert!(
        !fs::symlink_metadata(root.join("other.conf"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(root.join("real.conf")).unwrap(), "c=3\n");
    assert_eq!(
        fs::read_to_string(root.join("other.conf")).unwrap(),
        "e=5\n"
    );
}
