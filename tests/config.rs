//! ansible.cfg, `ANSIBLE_*` variables and the connection flags, on the real
//! binary: local runs for discovery, precedence and errors, the local fleet
//! (real sshd) for the SSH user, key and inventory a project's ansible.cfg
//! gives.

mod common;

use common::fleet::Fleet;
use common::{Outcome, rollout_in};
use std::fs;
use std::path::Path;

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - copy: { content: "{{ inventory_hostname }}\n", dest: "{{ out_dir }}/{{ inventory_hostname }}" }
"#;

/// A project directory: `ansible.cfg` (if given), a playbook, two local
/// inventories, and an output directory.
struct Project(tempfile::TempDir);

impl Project {
    fn new(cfg: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| fs::write(dir.path().join(name), text).unwrap();
        write("site.yml", PLAYBOOK);
        write(
            "hosts.ini",
            "[web]\nweb1\nweb2\n[all:vars]\nansible_connection=local\n",
        );
        write("other.ini", "other1 ansible_connection=local\n");
        if let Some(cfg) = cfg {
            write("ansible.cfg", cfg);
        }
        fs::create_dir(dir.path().join("out")).unwrap();
        Project(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn play(&self, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
        let out_dir = format!("out_dir={}", self.path().join("out").display());
        let mut args = vec!["play", "site.yml", "-e", &out_dir];
        args.extend_from_slice(extra);
        rollout_in(self.path(), &args, env)
    }

    /// The hosts that wrote their file, sorted.
    fn written(&self) -> Vec<String> {
        let mut hosts: Vec<String> = fs::read_dir(self.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        hosts.sort();
        for host in &hosts {
            fs::remove_file(self.path().join("out").join(host)).unwrap();
        }
        hosts
    }
}

#[test]
fn the_working_directorys_ansible_cfg_gives_the_inventory_and_warns_once_per_ignored_key() {
    let project = Project::new(Some(
        "# a project's settings\n[defaults]\ninventory = hosts.ini\nforks = 1\nnocows = 1\n\
         stdout_callback = yaml\n[ssh_connection]\npipelining = True\n[colors]\nok = green\n",
    ));
    let out = project.play(&["-v"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(project.written(), ["web1", "web2"], "{}", out.all());
    let cfg = project.path().join("ansible.cfg");
    out.assert_says(&format!("Using {} as config file", cfg.display()));
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[WARNING]"))
        .collect();
    assert_eq!(
        warnings,
        [
            format!(
                "[WARNING]: {}:5: rollout ignores [defaults] nocows",
                cfg.display()
            ),
            format!(
                "[WARNING]: {}:6: rollout ignores [defaults] stdout_callback",
                cfg.display()
            ),
            format!(
                "[WARNING]: {}:9: rollout ignores the section [colors] (1 setting(s))",
                cfg.display()
            ),
        ],
        "{}",
        out.stderr
    );

    // The environment beats the file; -i beats both.
    let out = project.play(&[], &[("ANSIBLE_INVENTORY", "other.ini")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(project.written(), ["other1"]);
    let out = project.play(
        &["-i", "hosts.ini", "--limit", "web2"],
        &[("ANSIBLE_INVENTORY", "other.ini")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(project.written(), ["web2"]);

    // ANSIBLE_CONFIG names another file, relative to the working directory.
    fs::write(
        project.path().join("other.cfg"),
        "[defaults]\ninventory = other.ini\n",
    )
    .unwrap();
    let out = project.play(&[], &[("ANSIBLE_CONFIG", "other.cfg")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(project.written(), ["other1"]);
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
}

#[test]
fn a_world_writable_working_directory_is_not_a_config_source() {
    use std::os::unix::fs::PermissionsExt;
    let project = Project::new(Some("[defaults]\ninventory = hosts.ini\n"));
    fs::set_permissions(project.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let out = project.play(&["-i", "other.ini"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("world writable directory") && out.stderr.contains("ignoring it"),
        "{}",
        out.stderr
    );
}

#[test]
fn dash_c_local_connects_hosts_that_set_no_connection_locally() {
    let project = Project::new(None);
    fs::write(
        project.path().join("plain.ini"),
        "plain1\nplain2 ansible_connection=local\n",
    )
    .unwrap();
    let out = project.play(&["-i", "plain.ini", "-c", "local", "--flush-cache"], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(project.written(), ["plain1", "plain2"]);
}

#[test]
fn bad_settings_and_flags_are_clear_errors_before_anything_runs() {
    for (cfg, args, env, says) in [
        (
            "[defaults]\nforks = many\n",
            vec![],
            vec![],
            "invalid value 'many' for [defaults] forks: expected a whole number",
        ),
        (
            "[defaults]\ninventory = hosts.ini\nhost_key_checking = nope\n",
            vec![],
            vec![],
            "ansible.cfg:3:1",
        ),
        (
            "forks = 3\n",
            vec![],
            vec![],
            "'forks' comes before any [section] header",
        ),
        (
            "[defaults]\n",
            vec![],
            vec![("ANSIBLE_CONFIG", "/nonexistent/ansible.cfg")],
            "ANSIBLE_CONFIG names '/nonexistent/ansible.cfg', which is not a readable file",
        ),
        (
            "[defaults]\n",
            vec![],
            vec![("ANSIBLE_FORKS", "x")],
            "invalid value 'x' in ANSIBLE_FORKS",
        ),
        (
            "[defaults]\n",
            vec!["-c", "docker"],
            vec![],
            "-c docker: rollout connects with ssh or local only",
        ),
        (
            "[privilege_escalation]\nbecome_method = doas\n",
            vec![],
            vec![],
            "become_method (",
        ),
        (
            "[defaults]\n",
            vec!["--become-method", "pbrun"],
            vec![],
            "--become-method pbrun",
        ),
        (
            "[ssh_connection]\nssh_args = -o 'unclosed\n",
            vec!["-i", "hosts.ini"],
            vec![],
            "[ssh_connection] ssh_args",
        ),
    ] {
        let project = Project::new(Some(cfg));
        let out = project.play(&args, &env);
        assert_eq!(out.code, 5, "{cfg:?} {args:?}: {}", out.all());
        assert!(
            out.stderr.contains(says),
            "{cfg:?} {args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(project.written().is_empty(), "nothing ran");
    }
}

#[test]
fn a_become_method_other_than_sudo_or_su_is_a_load_error_at_its_line() {
    let project = Project::new(None);
    fs::write(
        project.path().join("su.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id\n      become: true\n      become_method: doas\n",
    )
    .unwrap();
    let out = rollout_in(project.path(), &["play", "su.yml", "-i", "hosts.ini"], &[]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.stderr.contains("become_method 'doas' is not supported")
            && out.stderr.contains("su.yml:6:"),
        "{}",
        out.stderr
    );
    // A host's ansible_become_method fails its become tasks, never quietly
    // turns into sudo.
    fs::write(
        project.path().join("su.ini"),
        "h1 ansible_connection=local ansible_become_method=doas\n",
    )
    .unwrap();
    let out = project.play(&["-i", "su.ini", "-b"], &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("become_method 'doas' is not supported: rollout becomes with sudo or su");
    assert!(project.written().is_empty());
}

/// The fleet's hosts without any user or key: ansible.cfg must supply them.
fn bare_inventory(fleet: &Fleet) -> String {
    let mut text = String::from("[web]\n");
    for i in 0..2 {
        let host = fleet.host(i);
        text.push_str(&format!(
            "host{} ansible_host={} ansible_port={}{}\n",
            i + 1,
            host["address"].as_str().unwrap(),
            host["port"],
            // The inventory's user beats every default below.
            if i == 1 {
                " ansible_user=rollout-pw"
            } else {
                ""
            },
        ));
    }
    text
}

/// A client config that gives host key trust and nothing else.
fn trust_only(fleet: &Fleet) -> String {
    fleet.write(
        "trust_only",
        &format!(
            "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            fleet.path("known_hosts")
        ),
    )
}

#[test]
fn ansible_cfg_gives_the_fleet_its_inventory_user_and_key() {
    let fleet = Fleet::up(2, 106);
    fleet.write("hosts", &bare_inventory(&fleet));
    let ssh_config = trust_only(&fleet);
    let cfg = fleet.write(
        "ansible.cfg",
        "[defaults]\ninventory = hosts\nremote_user = rollout-deploy\n\
         private_key_file = keys/id_ed25519\ntimeout = 5\n",
    );
    let pb = fleet.write(
        "who.yml",
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n\
         \x20   - debug: { msg: \"USER {{ inventory_hostname }}={{ who.stdout }}\" }\n",
    );
    let play = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["play", pb.as_str(), "--ssh-config", ssh_config.as_str()];
        all.extend_from_slice(args);
        let mut env = env.to_vec();
        env.push(("ANSIBLE_CONFIG", cfg.as_str()));
        rollout_in(&fleet.dir, &all, &env)
    };
    let users = |out: &Outcome| {
        assert_eq!(out.code, 0, "{}", out.all());
        ["host1", "host2"].map(|h| {
            let at = out.stdout.find(&format!("USER {h}=")).expect(&out.stdout);
            out.stdout[at..]
                .split(['=', '"', '\n'])
                .nth(1)
                .unwrap()
                .to_string()
        })
    };
    // No -i, no user, no key on the command line: all from ansible.cfg.
    assert_eq!(users(&play(&[], &[])), ["rollout-deploy", "rollout-pw"]);
    // -u beats the variable, which beats the file; the inventory beats all.
    assert_eq!(
        users(&play(&[], &[("ANSIBLE_REMOTE_USER", "rollout-pw")])),
        ["rollout-pw", "rollout-pw"]
    );
    assert_eq!(
        users(&play(
            &["-u", "rollout-deploy"],
            &[("ANSIBLE_REMOTE_USER", "rollout-pw")]
        )),
        ["rollout-deploy", "rollout-pw"]
    );
    // [privilege_escalation] from the environment: become, asking for the
    // password (rollout-pw's sudo wants one).
    let escalate = [
        ("ANSIBLE_BECOME", "True"),
        ("ANSIBLE_BECOME_ASK_PASS", "yes"),
        ("ROLLOUT_BECOME_PASS", "rollout-pw-secret"),
    ];
    assert_eq!(users(&play(&[], &escalate)), ["root", "root"]);
    // A key the hosts do not accept, from the environment, beats the file's.
    let out = play(
        &["-T", "3"],
        &[("ANSIBLE_PRIVATE_KEY_FILE", "keys/id_ed25519_enc.pub")],
    );
    assert_eq!(out.code, 4, "unreachable: {}", out.all());
    assert!(out.stdout.contains("UNREACHABLE"), "{}", out.all());
    // --private-key beats the environment.
    let rsa = fleet.path("keys/id_rsa");
    let out = play(
        &["--private-key", &rsa],
        &[("ANSIBLE_PRIVATE_KEY_FILE", "keys/id_ed25519_enc.pub")],
    );
    assert_eq!(users(&out), ["rollout-deploy", "rollout-pw"]);
}

#[test]
fn become_method_su_types_the_password_at_sus_prompt_on_the_fleet() {
    let fleet = Fleet::up(2, 107);
    // Where rollout-pw may write: a directory of this test's own.
    // (Under /tmp, which every user may traverse; removed even on failure.)
    let shared_dir = tempfile::Builder::new()
        .prefix("rollout-cfg-su-")
        .tempdir_in("/tmp")
        .unwrap();
    let shared = shared_dir.path().to_path_buf();
    fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let pb = fleet.write(
        "su.yml",
        &format!(
            r#"
- hosts: web
  gather_facts: false
  become: true
  become_method: su
  become_user: rollout-pw
  tasks:
    - command: id -un
      register: who
    - assert: {{ that: "who.stdout == 'rollout-pw'" }}
    - copy:
        content: "through su's terminal\n{{{{ inventory_hostname }}}}\n"
        dest: "{dir}/{{{{ inventory_hostname }}}}"
    - shell: echo out; echo err >&2
      register: both
    - debug: {{ msg: "MERGED {{{{ both.stdout_lines | join(',') }}}}" }}
"#,
            dir = shared.display()
        ),
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 2, "no password, no su: {}", out.all());
    out.assert_says("su needs the password of 'rollout-pw'");
    let out = fleet.play_env(&pb, &["-K"], &[("ROLLOUT_BECOME_PASS", "wrong")]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("su could not become 'rollout-pw': su: Authentication failure");
    assert!(!out.all().contains("wrong\""), "{}", out.all());
    let out = fleet.play_env(
        &pb,
        &["-K"],
        &[("ROLLOUT_BECOME_PASS", "rollout-pw-secret")],
    );
    let written = fs::read_to_string(shared.join("host2"));
    let owner = fs::metadata(shared.join("host1")).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(written.unwrap(), "through su's terminal\nhost2\n");
    assert_ne!(owner.unwrap(), 0, "written by rollout-pw, not root");
    // One terminal, one output: stderr comes within stdout.
    out.assert_says("MERGED out,err");
    assert!(!out.all().contains("rollout-pw-secret"), "{}", out.all());
}

#[test]
fn ask_pass_and_ansible_password_log_in_with_the_password_after_the_keys() {
    let fleet = Fleet::up_with(1, 108, &["--password-auth", "host1"]);
    let host = fleet.host(0);
    let line = format!(
        "host1 ansible_host={} ansible_port={} ansible_user=rollout-pw",
        host["address"].as_str().unwrap(),
        host["port"]
    );
    let plain = fleet.write("plain", &format!("{line}\n"));
    let with_var = fleet.write(
        "with_var",
        &format!("{line} ansible_password=rollout-pw-secret\n"),
    );
    let ssh_config = trust_only(&fleet);
    let pb = fleet.write(
        "who.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - command: id -un\n      register: who\n\
         \x20   - assert: { that: \"who.stdout == 'rollout-pw'\" }\n",
    );
    let play = |inventory: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec![
            "play",
            pb.as_str(),
            "-i",
            inventory,
            "--ssh-config",
            ssh_config.as_str(),
        ];
        all.extend_from_slice(args);
        rollout_in(&fleet.dir, &all, env)
    };
    let out = play(&plain, &[], &[]);
    assert_eq!(out.code, 4, "no key, no password: {}", out.all());
    let out = play(&plain, &["-k"], &[("ROLLOUT_SSH_PASS", "not-it")]);
    assert_eq!(out.code, 4, "{}", out.all());
    assert!(
        out.all().contains("the password (refused)"),
        "{}",
        out.all()
    );
    assert!(!out.all().contains("not-it"), "{}", out.all());
    let out = play(
        &plain,
        &["-k", "-vvv"],
        &[("ROLLOUT_SSH_PASS", "rollout-pw-secret")],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!out.all().contains("rollout-pw-secret"), "{}", out.all());
    let out = play(&with_var, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.all());
}
