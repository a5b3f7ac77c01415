//! Playbooks over SSH against real OpenSSH hosts (tests/bed): modules,
//! host-key trust, keys, become, a host dying mid-play, injection.

mod common;

use common::fleet::Fleet;
use common::rollout;
use std::fs;
use std::path::PathBuf;

#[test]
fn modules_run_over_ssh_and_are_idempotent() {
    let fleet = Fleet::up(2, 1);
    let pb = fleet.write(
        "modules.yaml",
        r#"
- hosts: web
  vars:
    version: "2.0"
  tasks:
    - command: id -un
      register: who
    - assert: { that: "who.stdout == 'rollout-deploy'" }
    - name: become root
      command: id -un
      become: true
      register: root
    - assert: { that: "root.stdout == 'root'" }
    - file: { path: "{{ bed_root }}/app", state: directory, mode: "0755" }
    - copy: { content: "{{ version }}\n", dest: "{{ bed_root }}/app/VERSION", mode: "0644" }
    - lineinfile: { path: "{{ bed_root }}/app/app.conf", line: "port=8080", create: true }
    - stat: { path: "{{ bed_root }}/app/VERSION" }
      register: st
    - assert:
        that:
          - st.stat.exists
          - st.stat.size == 4
          - st.stat.mode == '0644'
    - shell: echo "$((1 + 2))" > {{ bed_root }}/app/sum
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(fleet.root(0).join("app/VERSION")).unwrap(),
        "2.0\n"
    );
    assert_eq!(
        fs::read_to_string(fleet.root(1).join("app/sum")).unwrap(),
        "3\n"
    );
    assert!(
        out.recap("host1").contains("changed=6"),
        "{}",
        out.recap("host1")
    );

    // The file modules change nothing the second time.
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.recap("host1").contains("changed=3"),
        "only the three commands change: {}",
        out.recap("host1")
    );
}

#[test]
fn templated_values_never_reach_a_remote_shell() {
    let fleet = Fleet::up(1, 2);
    let pwned = fleet.root(0).join("pwned");
    // copy's content travels inside the persistent shell's script (text)
    // or on stdin (binary): both byte for byte, neither run.
    let binary: Vec<u8> = (0..=255u8).cycle().take(600).collect();
    fs::write(fleet.path("blob.bin"), &binary).unwrap();
    let p = pwned.display();
    // command expands environment variables in its arguments (as Ansible's
    // does), only inside double quotes: a variable's value, the payload and
    // the literal words stay one argument each, never run.
    let pb = fleet.write("inj.yaml", &format!(
        "- hosts: web\n  tasks:\n    - command: echo {{{{ payload }}}}\n      register: out\n    - assert: {{ that: out.stdout == payload }}\n\
         \x20   - copy: {{ content: '{{{{ payload }}}}', dest: '{{{{ bed_root }}}}/payload' }}\n\
         \x20   - copy: {{ src: blob.bin, dest: '{{{{ bed_root }}}}/blob.bin' }}\n\
         \x20   - command: printf '%s|' {{{{ payload }}}} $GREETING ${{GREETING}} $UNSET_X '$(touch {p})' '`touch {p}`' '*' ';'\n\
         \x20     environment: {{ GREETING: 'a  b* $(touch {p}) `touch {p}`' }}\n\
         \x20     register: expanded\n\
         \x20   - copy: {{ content: '{{{{ expanded.stdout }}}}', dest: '{{{{ bed_root }}}}/expanded' }}\n",
    ));
    let text =
        format!("; touch {p} $(touch {p}) `touch {p}` | touch {p} 'it''s' \\ é\u{85}\u{2028}");
    let payload = serde_json::json!({ "payload": text }).to_string();
    let out = fleet.play(&pb, &["-e", &payload]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!pwned.exists(), "the payload ran on the host");
    assert_eq!(
        fs::read_to_string(fleet.root(0).join("payload")).unwrap(),
        text
    );
    assert_eq!(fs::read(fleet.root(0).join("blob.bin")).unwrap(), binary);
    let greeting = format!("a  b* $(touch {p}) `touch {p}`");
    assert_eq!(
        fs::read_to_string(fleet.root(0).join("expanded")).unwrap(),
        format!("{text}|{greeting}|{greeting}|$UNSET_X|$(touch {p})|`touch {p}`|*|;|")
    );
}

#[test]
fn unknown_host_key_is_refused_by_default_and_accept_new_trusts_it() {
    let fleet = Fleet::up(1, 3);
    let pb = fleet.write("t.yaml", "- hosts: web\n  tasks:\n    - command: 'true'\n");
    // A config whose known_hosts file is empty: the host is unknown.
    let known = fleet.dir.join("empty_known_hosts");
    fs::write(&known, "").unwrap();
    let cfg = PathBuf::from(known_hosts_config(&fleet, "strict_config", &known));
    let inventory = fleet.path("inventory");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "play",
            pb.as_str(),
            "-i",
            &inventory,
            "--ssh-config",
            cfg.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        rollout(&args)
    };
    let out = run(&[]);
    assert_eq!(out.code, 4, "{}", out.all());
    out.assert_says("UNREACHABLE");
    assert!(
        out.stdout.contains("SHA256:"),
        "the fingerprint is shown: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("accept-new"),
        "how to trust it is shown: {}",
        out.stdout
    );

    let out = run(&["--host-key-checking", "accept-new"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        fs::read_to_string(&known).unwrap().contains("ssh-ed25519"),
        "accept-new recorded the key"
    );
    let out = run(&[]);
    assert_eq!(out.code, 0, "now trusted: {}", out.all());

    // A changed key always fails, naming the known_hosts line.
    fs::write(&known, format!("[{}]:{} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
        fleet.host(0)["address"].as_str().unwrap(), fleet.host(0)["port"])).unwrap();
    let out = run(&["--host-key-checking", "accept-new"]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains(&format!("{}:1", known.display())),
        "names the line: {}",
        out.stdout
    );
}

#[test]
fn encrypted_key_with_passphrase_and_wrong_key() {
    let fleet = Fleet::up(1, 4);
    let pb = fleet.write("t.yaml", "- hosts: web\n  tasks:\n    - command: 'true'\n");
    let enc = fleet.path("keys/id_ed25519_enc");
    let key_var = format!("ansible_ssh_private_key_file={enc}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollout"))
        .env("ROLLOUT_STATE_DIR", common::state_dir())
        .args([
            "play",
            &pb,
            "-i",
            &fleet.path("inventory"),
            "--ssh-config",
            &fleet.path("ssh_config"),
            "-e",
            &key_var,
        ])
        .env("ROLLOUT_SSH_PASSPHRASE", "rollout-test-pass")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A key the host does not accept: refused, reported unreachable.
    let stranger = fleet.dir.join("stranger");
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            stranger.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    // Only that key: a config that names no identities of its own.
    let cfg = fleet.dir.join("no_identities_config");
    fs::write(
        &cfg,
        format!(
            "Host *\n  UserKnownHostsFile {}\n",
            fleet.path("known_hosts")
        ),
    )
    .unwrap();
    let out = rollout(&[
        "play",
        &pb,
        "-i",
        &fleet.path("inventory"),
        "--ssh-config",
        cfg.to_str().unwrap(),
        "-e",
        &format!("ansible_ssh_private_key_file={}", stranger.display()),
    ]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stdout.contains("rollout-deploy"),
        "names the user: {}",
        out.stdout
    );
}

#[test]
fn become_with_a_password_on_stdin() {
    let fleet = Fleet::up(1, 5);
    let pb = fleet.write("b.yaml",
        "- hosts: web\n  tasks:\n    - command: id -un\n      become: true\n      register: r\n    - assert: { that: r.stdout == 'root' }\n",
    );
    let run = |pass: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollout"));
        cmd.env("ROLLOUT_STATE_DIR", common::state_dir());
        cmd.args([
            "play",
            &pb,
            "-i",
            &fleet.path("inventory-pw"),
            "--ssh-config",
            &fleet.path("ssh_config"),
        ]);
        if let Some(p) = pass {
            cmd.arg("-K").env("ROLLOUT_BECOME_PASS", p);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert_eq!(out.status.code(), Some(2), "no password: sudo refuses");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--ask-become-pass"));
    let out = run(Some("rollout-pw-secret"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        !text.contains("rollout-pw-secret"),
        "the password never shows"
    );
}

#[test]
fn a_host_whose_sshd_dies_mid_command_is_unreachable_and_others_carry_on() {
    let fleet = Fleet::up(2, 6);
    let victim = fleet.sshd_pid(1);
    // host2 is inside a long command when host1 (root via sudo; the hosts
    // share this machine) kills host2's sshd and its sessions by PID.
    let pb = fleet.write(
        "die.yaml",
        &format!(
            r#"
- hosts: web
  tasks:
    - command: "true"
    - name: host2 loses its connection mid-command
      shell: |
        if [ "{{{{ inventory_hostname }}}}" = host1 ]; then
          sleep 1
          # Parents first: were the command killed before its sshd, the
          # session could still report its exit status.
          tree() {{ echo "$1"; for c in $(ps -o pid= --ppid "$1"); do tree "$c"; done; }}
          kill -9 $(tree {victim})
        else
          sleep 20
        fi
      become: true
    - name: continues on the first host
      command: touch {{{{ bed_root }}}}/after
"#
        ),
    );
    let started = std::time::Instant::now();
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        started.elapsed().as_secs() < 15,
        "the lost connection was noticed, not waited out"
    );
    out.assert_says("fatal: [host2]: UNREACHABLE!");
    assert!(
        out.recap("host2").contains("unreachable=1"),
        "{}",
        out.recap("host2")
    );
    assert!(fleet.root(0).join("after").exists());
    assert!(!fleet.root(1).join("after").exists());
}

#[test]
fn ecdsa_rsa_and_agent_keys_authenticate() {
    let fleet = Fleet::up(1, 8);
    let pb = fleet.write("t.yaml", "- hosts: web\n  tasks:\n    - command: 'true'\n");
    // A config that names no identities: only the key under test is offered.
    let cfg = fleet.dir.join("bare_config");
    fs::write(
        &cfg,
        format!(
            "Host *\n  UserKnownHostsFile {}\n",
            fleet.path("known_hosts")
        ),
    )
    .unwrap();
    for key in ["id_ecdsa", "id_rsa"] {
        let out = rollout(&[
            "play",
            &pb,
            "-i",
            &fleet.path("inventory"),
            "--ssh-config",
            cfg.to_str().unwrap(),
            "-e",
            &format!(
                "ansible_ssh_private_key_file={}",
                fleet.path(&format!("keys/{key}"))
            ),
        ]);
        assert_eq!(out.code, 0, "{key}: {}", out.all());
    }

    // The ssh-agent: an inventory that names no key, the key loaded in an agent.
    let h = fleet.host(0);
    let inventory = fleet.dir.join("agent_inventory");
    fs::write(
        &inventory,
        format!(
            "[web]\nhost1 ansible_host={} ansible_port={} ansible_user=rollout-deploy\n",
            h["address"].as_str().unwrap(),
            h["port"]
        ),
    )
    .unwrap();
    let sock = fleet.dir.join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .args(["-D", "-a", sock.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent runs");
    for _ in 0..50 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(fleet.path("keys/id_ed25519"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let run = |with_agent: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rollout"));
        cmd.env("ROLLOUT_STATE_DIR", common::state_dir());
        cmd.args([
            "play",
            &pb,
            "-i",
            inventory.to_str().unwrap(),
            "--ssh-config",
            cfg.to_str().unwrap(),
        ]);
        cmd.env("HOME", &fleet.dir); // no ~/.ssh keys of the machine
        if with_agent {
            cmd.env("SSH_AUTH_SOCK", &sock);
        } else {
            cmd.env_remove("SSH_AUTH_SOCK");
        }
        cmd.output().unwrap()
    };
    let with = run(true);
    let without = run(false);
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stdout)
    );
    assert_eq!(
        without.status.code(),
        Some(4),
        "without the agent no key is offered"
    );
}

#[test]
fn the_fleet_demo_playbook_deploys_every_host() {
    let fleet = Fleet::up(3, 7);
    let pb = format!("{}/playbooks/fleet-demo.yaml", env!("CARGO_MANIFEST_DIR"));
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    for i in 0..3 {
        let app = fleet.root(i).join("app");
        assert_eq!(
            fs::read_to_string(app.join("current/VERSION")).unwrap(),
            "2.0.0\n"
        );
        let env = fs::read_to_string(app.join("app.env")).unwrap();
        assert!(env.contains("APP_VERSION=2.0.0"), "{env}");
        assert_eq!(
            fs::read_to_string(app.join("reloads")).unwrap(),
            "reloaded 2.0.0\n"
        );
    }
    assert!(
        out.stdout.contains("BATCH 1/3: host1"),
        "serial ramp [1, 50%]: {}",
        out.stdout
    );
}

#[test]
fn the_become_password_reaches_sudo_only() {
    let fleet = Fleet::up(1, 60);
    let secret = "rollout-pw-secret";
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    fs::write(fleet.path("blob.bin"), &binary).unwrap();
    fs::write(fleet.path("hello.sh"), "#!/bin/sh\necho hello\n").unwrap();
    let pb = fleet.write(
        "become-pw.yaml",
        r#"
- hosts: web
  become: true
  tasks:
    - copy: { src: blob.bin, dest: "{{ bed_root }}/blob.bin" }
    - script: hello.sh
      register: s
    - copy: { content: "{{ s.stdout }}|{{ s.stderr }}", dest: "{{ bed_root }}/script.out" }
"#,
    );
    // rollout-deploy is NOPASSWD, rollout-pw needs the password.
    for inventory in ["inventory", "inventory-pw"] {
        let events = fleet.path(&format!("{inventory}.events"));
        let out = fleet.play_with(
            &fleet.path(inventory),
            &pb,
            &[
                "-e",
                &format!("ansible_become_password={secret}"),
                "--events-json",
                &events,
            ],
        );
        assert_eq!(out.code, 0, "{inventory}: {}", out.all());
        let root = fleet.root(0);
        let copied = fs::read(root.join("blob.bin")).unwrap();
        assert!(
            copied == binary,
            "{inventory}: the copy differs, starting {:?}",
            String::from_utf8_lossy(&copied[..copied.len().min(40)])
        );
        assert_eq!(
            fs::read_to_string(root.join("script.out")).unwrap(),
            "hello\n|",
            "{inventory}: script output"
        );
        assert!(!out.all().contains(secret), "{inventory}: {}", out.all());
        let events = fs::read_to_string(&events).unwrap();
        assert!(
            !events.is_empty() && !events.contains(secret),
            "{inventory}: {events}"
        );
        for file in walk(&root) {
            let bytes = fs::read(&file).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{inventory}: the password is in {}",
                file.display()
            );
        }
    }
}

/// Writes an ssh config whose only known_hosts file is `known` (strict
/// checking, rollout's default); returns its path.
fn known_hosts_config(fleet: &Fleet, name: &str, known: &std::path::Path) -> String {
    fleet.write(
        name,
        &format!(
            "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            known.display()
        ),
    )
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_background_process_never_writes_into_later_tasks() {
    let fleet = Fleet::up(1, 61);
    let root = fleet.root(0);
    // The ticker prints every 10 ms, so that each task below (0.2 s, or
    // 20 lineinfile edits) would catch some of its output.
    let pb = fleet.write(
        "background.yaml",
        r#"
- hosts: web
  tasks:
    - shell: "sh -c 'sleep 0.2; while :; do echo tick; echo tock >&2; sleep 0.01; done' & echo $! > {{ bed_root }}/ticker.pid; echo started"
      register: bg
    - command: sh -c 'sleep 0.3; echo one'
      register: one
    - shell: "sleep 0.2; printf two; printf err >&2"
      register: two
    - lineinfile: { path: "{{ bed_root }}/edit.conf", line: "key{{ item }}=value", create: true }
      loop: "{{ range(20) | list }}"
    - copy:
        content: "{{ [bg.stdout, one.stdout, one.stderr, two.stdout, two.stderr] | join('|') }}"
        dest: "{{ bed_root }}/outputs"
"#,
    );
    let out = fleet.play(&pb, &[]);
    // Stopped by the PID it reported, whatever the outcome.
    if let Ok(pid) = fs::read_to_string(root.join("ticker.pid")) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(root.join("outputs")).unwrap(),
        "started|one||two|err"
    );
    let lines: String = (0..20).map(|i| format!("key{i}=value\n")).collect();
    assert_eq!(fs::read_to_string(root.join("edit.conf")).unwrap(), lines);
}

#[test]
fn a_task_timeout_fails_the_task_kills_its_command_and_keeps_the_connection() {
    let fleet = Fleet::up(1, 62);
    let pb = fleet.write(
        "timeout.yaml",
        r#"
- hosts: web
  tasks:
    - shell: echo "$SSH_CONNECTION"
      register: before
    - command: sleep 30
      timeout: 2
      register: slow
      ignore_errors: true
    - shell: echo "$SSH_CONNECTION"
      register: after
    - shell: "ps -u rollout-deploy -o args= | grep -qx 'sleep 30' && echo alive || echo gone"
      register: sleeper
    - copy:
        content: "{{ [slow.msg, slow.failed, before.stdout == after.stdout, sleeper.stdout] | join('|') }}"
        dest: "{{ bed_root }}/timeout"
"#,
    );
    let started = std::time::Instant::now();
    let out = fleet.play(&pb, &[]);
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    assert_eq!(
        fs::read_to_string(fleet.root(0).join("timeout")).unwrap(),
        "The command action failed to execute in the expected time frame (2) and was terminated\
         |True|True|gone"
    );
}

#[test]
fn a_host_known_only_by_its_rsa_or_ecdsa_key_is_accepted_strictly() {
    let fleet = Fleet::up(1, 63);
    let pb = fleet.write("t.yaml", "- hosts: web\n  tasks:\n    - command: 'true'\n");
    let all_keys = fs::read_to_string(fleet.path("known_hosts")).unwrap();
    for kind in ["ssh-rsa", "ecdsa-sha2-nistp256"] {
        let only: String = all_keys
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(kind))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(only.lines().count(), 1, "{kind} in:\n{all_keys}");
        let known = fleet.dir.join(format!("known_{kind}"));
        fs::write(&known, only).unwrap();
        let cfg = known_hosts_config(&fleet, &format!("config_{kind}"), &known);
        let out = rollout(&[
            "play",
            &pb,
            "-i",
            &fleet.path("inventory"),
            "--ssh-config",
            &cfg,
        ]);
        assert_eq!(out.code, 0, "known by {kind} only: {}", out.all());
    }
}

#[test]
fn remote_user_is_the_default_that_ansible_user_overrides() {
    // Recorded from ansible-playbook 2.19.14 on this fleet: the inventory's
    // ansible_user beats the play's remote_user; without it, remote_user
    // applies; the play's vars beat the inventory.
    let fleet = Fleet::up(1, 71);
    let deploy = fleet.info["deploy_user"].as_str().unwrap().to_string();
    let other = fleet.info["password_user"].as_str().unwrap().to_string();
    let inventory = fs::read_to_string(fleet.path("inventory")).unwrap();
    let no_user = fleet.dir.join("inventory-no-user");
    fs::write(
        &no_user,
        inventory.replace(&format!(" ansible_user={deploy}"), ""),
    )
    .unwrap();
    let whoami = |play_keywords: &str, inventory: &str| {
        let playbook = fleet.dir.join("whoami.yaml");
        fs::write(
            &playbook,
            format!(
                "- hosts: web\n{play_keywords}  tasks:\n    - command: whoami\n      register: w\n\
                 \x20   - debug: msg=user={{{{ w.stdout }}}}\n"
            ),
        )
        .unwrap();
        let out = fleet.play_with(inventory, playbook.to_str().unwrap(), &[]);
        assert_eq!(out.code, 0, "{}", out.all());
        out.stdout
    };
    let remote_user = format!("  remote_user: {other}\n");
    let inventory = fleet.path("inventory");
    assert!(whoami(&remote_user, &inventory).contains(&format!("user={deploy}")));
    assert!(whoami(&remote_user, no_user.to_str().unwrap()).contains(&format!("user={other}")));
    let play_var = format!("  remote_user: {deploy}\n  vars:\n    ansible_user: {other}\n");
    assert!(whoami(&play_var, &inventory).contains(&format!("user={other}")));
}
