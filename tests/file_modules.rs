//! The file modules over SSH against real OpenSSH hosts (tests/bed):
//! blockinfile, replace, slurp, fetch, unarchive and archive edit, read,
//! unpack and pack files on the host, change nothing the second time, and fail clearly.

mod common;

use common::fleet::Fleet;
use std::fs;
use std::process::Command;

const PLAYBOOK: &str = r#"
- hosts: web
  tasks:
    - copy: { content: "[main]\nport=80\nhost=a\n", dest: "{{ bed_root }}/app.conf" }
      when: fresh | default(false) | bool
    - blockinfile:
        path: "{{ bed_root }}/app.conf"
        insertafter: '^\[main\]'
        block: |
          managed=1
          by=rollout
    - replace:
        path: "{{ bed_root }}/app.conf"
        regexp: '^port=(80)$'
        replace: 'port=\g<1>80'
        after: '\[main\]'
    - replace: { path: "{{ bed_root }}/app.conf", regexp: 'port=8080$', replace: 'port=8080' }
    - slurp: { src: "{{ bed_root }}/app.conf" }
      register: conf
    - assert: { that: "'port=8080' in (conf.content | b64decode)" }
    - fetch: { src: "{{ bed_root }}/app.conf", dest: fetched }
    - file: { path: "{{ bed_root }}/{{ item }}", state: directory }
      loop: [tgz, zip]
    - unarchive: { src: app.tar.gz, dest: "{{ bed_root }}/tgz" }
    - unarchive: { src: app.zip, dest: "{{ bed_root }}/zip", mode: "0750" }
    - archive: { path: "{{ bed_root }}/tgz/app", dest: "{{ bed_root }}/repacked.tar.gz" }
"#;

/// `app/app.ini` and `app/conf/port.conf`, packed by the host's tar and zip
/// beside the playbook.
fn archives(fleet: &Fleet) {
    let tree = fleet.dir.join("tree");
    fs::create_dir_all(tree.join("app/conf")).unwrap();
    fs::write(tree.join("app/app.ini"), "name=app\n").unwrap();
    fs::write(tree.join("app/conf/port.conf"), "port=80\n").unwrap();
    for (packer, name) in [
        (&["tar", "-czf"][..], "app.tar.gz"),
        (&["zip", "-qr"][..], "app.zip"),
    ] {
        let ok = Command::new(packer[0])
            .args(&packer[1..])
            .arg(fleet.path(name))
            .arg("app")
            .current_dir(&tree)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{name}");
    }
}

#[test]
fn file_modules_run_over_ssh_and_are_idempotent() {
    let fleet = Fleet::up(1, 125);
    archives(&fleet);
    let pb = fleet.write("files.yaml", PLAYBOOK);
    let out = fleet.play(&pb, &["-e", "fresh=true"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let root = fleet.root(0);
    let conf = "[main]\n# BEGIN ANSIBLE MANAGED BLOCK\nmanaged=1\nby=rollout\n# END ANSIBLE MANAGED BLOCK\nport=8080\nhost=a\n";
    assert_eq!(fs::read_to_string(root.join("app.conf")).unwrap(), conf);
    // fetch: dest/<inventory_hostname>/<src path>.
    let fetched = format!(
        "{}/fetched/host1/{}/app.conf",
        fleet.dir.display(),
        root.display()
    );
    assert_eq!(fs::read_to_string(&fetched).unwrap(), conf);
    assert_eq!(
        fs::read_to_string(root.join("tgz/app/conf/port.conf")).unwrap(),
        "port=80\n"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root.join("zip/app/app.ini"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    let packed = Command::new("tar")
        .args(["-tzf", &root.join("repacked.tar.gz").display().to_string()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&packed.stdout).contains("app/conf/port.conf"));
    // copy, blockinfile, one replace, fetch, the directories, 2 archives
    // unpacked, one packed.
    assert!(
        out.recap("host1").contains("changed=8"),
        "{}",
        out.recap("host1")
    );

    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.recap("host1").contains("changed=0"), "{}", out.all());
}

#[test]
fn file_module_errors_name_the_problem() {
    let fleet = Fleet::up(1, 126);
    let pb = fleet.write(
        "bad.yaml",
        r#"
- hosts: web
  vars:
    pattern: '(unclosed'
  tasks:
    - copy: { content: "x\n", dest: "{{ bed_root }}/x.conf" }
    - replace: { path: "{{ bed_root }}/x.conf", regexp: "{{ pattern }}", replace: y }
      ignore_errors: true
    - slurp: { src: "{{ bed_root }}/missing" }
      ignore_errors: true
    - fetch: { src: "{{ bed_root }}/missing", dest: fetched }
      ignore_errors: true
    - unarchive: { src: "{{ bed_root }}/x.conf", dest: "{{ bed_root }}", remote_src: true }
      ignore_errors: true
    - unarchive: { src: not-here.tgz, dest: "{{ bed_root }}" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_ne!(out.code, 0, "{}", out.all());
    // A templated pattern is checked once rendered (a literal one at load).
    out.assert_says("invalid regular expression '(unclosed'");
    out.assert_says("File not found: ");
    out.assert_says("the remote file does not exist, not transferring, ignored");
    out.assert_says("Failed to find handler for");
    out.assert_says("not-here.tgz");
    assert!(
        out.recap("host1").contains("failed=1"),
        "{}",
        out.recap("host1")
    );
}

#[test]
fn a_literal_bad_regexp_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("bad.yaml");
    fs::write(
        &pb,
        "- hosts: localhost\n  tasks:\n    - blockinfile:\n        path: /nonexistent\n        insertafter: '[unclosed'\n",
    )
    .unwrap();
    let out = common::rollout(&[
        "play",
        pb.to_str().unwrap(),
        "-i",
        "localhost,",
        "-c",
        "local",
    ]);
    assert_eq!(out.code, 4, "{}", out.all());
    let err = out.stderr.clone();
    assert!(
        err.contains("invalid regular expression '[unclosed'"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:5:9"), "{err}");
}
