//! Gathered facts checked against Ansible's own `setup`, fact by fact.
//!
//! `scripts/facts-record` ran the real ansible-core `setup` once on a
//! local-fleet host (over SSH, as the fleet's deploy user) and kept the
//! facts rollout gathers in `tests/fixtures/facts/ansible-setup.json`,
//! with where it ran (machine id, kernel, os-release). This test gathers
//! with rollout on the same kind of host (a fresh local fleet) and compares
//! in four ways, so that no fact passes unchecked:
//!
//! 1. **Shape, always:** every recorded fact exists in rollout's, with the
//!    same JSON type, and a mapping has at least Ansible's keys (minus the
//!    few listed in [`NOT_GATHERED_KEYS`], documented in
//!    docs/ansible-differences.md).
//! 2. **Image facts, exactly:** facts that depend only on the OS image and
//!    the login user ([`IMAGE_FACTS`]). They are compared only on the image
//!    that was recorded; on another image the test fails and asks for
//!    `scripts/facts-record` rather than passing.
//! 3. **Machine facts, against this machine's ground truth** read by the
//!    test itself at run time (uname, /etc/machine-id, /proc/meminfo,
//!    getent, /proc/mounts, /sys/class/net): hostname, nodename, kernel,
//!    kernel_version, machine_id, memtotal_mb, processor_nproc, the user's
//!    ids, home and shell, the mount points, the interface names, HOME.
//! 4. **Machine facts, exactly, when recorded on this machine** (same
//!    machine id and kernel): [`MACHINE_FACTS`] (addresses, default
//!    routes, CPU counts, fqdn, service manager, virtualization, mount
//!    sizes...). Elsewhere the test says which were compared by shape only.
//!
//! Volatile values (date_time, memfree_mb, swapfree_mb, free space) are
//! compared by shape, and date_time's epoch against the test's clock.

mod common;

use common::fleet::Fleet;
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::process::Command;

/// Facts whose values come from the OS image and the login user.
const IMAGE_FACTS: &[&str] = &[
    "system",
    "os_family",
    "distribution",
    "distribution_version",
    "distribution_major_version",
    "distribution_minor_version",
    "distribution_release",
    "architecture",
    "machine",
    "userspace_architecture",
    "userspace_bits",
    "user_id",
    "user_gecos",
    "user_dir",
    "user_shell",
    "pkg_mgr",
    "fips",
    "lsb",
];

/// Facts whose values belong to the machine (compared exactly only on the
/// machine that recorded them).
const MACHINE_FACTS: &[&str] = &[
    "hostname",
    "nodename",
    "fqdn",
    "domain",
    "kernel",
    "kernel_version",
    "machine_id",
    "all_ipv4_addresses",
    "all_ipv6_addresses",
    "processor",
    "processor_count",
    "processor_cores",
    "processor_threads_per_core",
    "processor_vcpus",
    "processor_nproc",
    "memtotal_mb",
    "swaptotal_mb",
    "service_mgr",
    "virtualization_type",
    "virtualization_role",
    "user_uid",
    "user_gid",
    "real_user_id",
    "effective_user_id",
    "real_group_id",
    "effective_group_id",
];

/// Keys of Ansible's mappings that rollout does not gather (documented).
const NOT_GATHERED_KEYS: &[&str] = &[
    // Interface details read through ethtool / PCI sysfs.
    "pciid",
    "speed",
    "features",
    "timestamping",
    "hw_timestamp_filters",
    "perm_macaddress",
    "module",
    // `python`: rollout never runs the interpreter to ask.
    "has_sslcontext",
    "version_info",
];

/// Keys of `python.version` rollout cannot know without running Python.
const PYTHON_VERSION_UNKNOWN: &[&str] = &["micro", "releaselevel", "serial"];

struct Recorded {
    facts: serde_json::Map<String, Json>,
    machine_id: String,
    kernel: String,
    os_release: String,
}

fn recorded() -> Recorded {
    let path = common::fixtures().join("facts/ansible-setup.json");
    let record: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let text = |k: &str| record[k].as_str().unwrap().to_string();
    let facts = record["facts"].as_object().unwrap().iter();
    Recorded {
        // Without the prefix, as `ansible_facts` holds them.
        facts: facts
            .map(|(k, v)| (k.strip_prefix("ansible_").unwrap().to_string(), v.clone()))
            .collect(),
        machine_id: text("machine_id"),
        kernel: text("kernel"),
        os_release: text("os_release"),
    }
}

/// rollout's `ansible_facts` of host1 of a fresh one-host fleet, written by
/// the controller; the play also checks that facts are injected as
/// top-level `ansible_` variables too (three of them, whole).
fn gathered(fleet: &Fleet) -> serde_json::Map<String, Json> {
    let out = fleet.path("facts.json");
    let pb = fleet.write(
        "facts.yaml",
        &format!(
            r#"
- hosts: host1
  tasks:
    - assert:
        that:
          - ansible_hostname == ansible_facts['hostname']
          - ansible_default_ipv4 == ansible_facts.default_ipv4
          - ansible_mounts == ansible_facts.mounts
    - copy:
        content: "{{{{ ansible_facts | to_json }}}}"
        dest: {out}
      delegate_to: localhost
"#
        ),
    );
    let run = fleet.play(&pb, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    run.assert_says("TASK [Gathering Facts]");
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

fn sh(command: &str) -> String {
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn same_shape(name: &str, ansible: &Json, rollout: &Json, problems: &mut Vec<String>) {
    match (ansible, rollout) {
        (Json::Object(a), Json::Object(r)) => {
            for (key, value) in a {
                let path = format!("{name}.{key}");
                match r.get(key) {
                    Some(rv) => same_shape(&path, value, rv, problems),
                    None if NOT_GATHERED_KEYS.contains(&key.as_str()) => {}
                    None if name.ends_with("python.version")
                        && PYTHON_VERSION_UNKNOWN.contains(&key.as_str()) => {}
                    None => problems.push(format!("{path}: missing")),
                }
            }
        }
        (Json::Array(a), Json::Array(r)) => {
            if let (Some(a0), Some(r0)) = (a.first(), r.first()) {
                same_shape(&format!("{name}[0]"), a0, r0, problems);
            }
        }
        (a, r) if std::mem::discriminant(a) == std::mem::discriminant(r) => {}
        (a, r) => problems.push(format!("{name}: Ansible has {a}, rollout {r}")),
    }
}

/// Lists compared as sets (Ansible's order comes from Python sets).
fn normalised(value: &Json) -> Json {
    match value {
        Json::Array(items) if items.iter().all(Json::is_string) => {
            let set: BTreeSet<&str> = items.iter().filter_map(Json::as_str).collect();
            json!(set)
        }
        other => other.clone(),
    }
}

#[test]
fn gathered_facts_match_ansible_setup() {
    let recorded = recorded();
    let fleet = Fleet::up(1, 95);
    // A Json, so that a missing fact indexes as null rather than panicking.
    let facts = Json::Object(gathered(&fleet));
    let mut problems = Vec::new();

    // 1. Shape of every recorded fact.
    for (name, ansible) in &recorded.facts {
        match facts.get(name) {
            Some(mine) if name == "env" => {
                // Recorded as names only (values may be secret).
                let mine: BTreeSet<&String> = mine.as_object().unwrap().keys().collect();
                for key in ["HOME", "LOGNAME", "PATH", "USER", "SHELL"] {
                    let recorded = ansible.as_array().unwrap().iter().any(|k| k == key);
                    if recorded && !mine.contains(&key.to_string()) {
                        problems.push(format!("env.{key}: missing"));
                    }
                }
            }
            Some(mine) => same_shape(name, ansible, mine, &mut problems),
            None => problems.push(format!("{name}: not gathered")),
        }
    }

    // 2. Image facts, on the recorded image.
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    assert_eq!(
        os_release, recorded.os_release,
        "this machine's OS image differs from the one tests/fixtures/facts/ansible-setup.json \
         was recorded on: run scripts/facts-record here"
    );
    for name in IMAGE_FACTS {
        if let Some(ansible) = recorded.facts.get(*name)
            && facts.get(*name) != Some(ansible)
        {
            problems.push(format!(
                "{name}: Ansible {ansible}, rollout {:?}",
                facts.get(*name)
            ));
        }
    }
    assert_eq!(
        facts["python"]["executable"],
        recorded.facts["python"]["executable"]
    );

    // 3. Machine facts against this machine's ground truth.
    let user = recorded.facts["user_id"].as_str().unwrap().to_string();
    let passwd: Vec<String> = sh(&format!("getent passwd {user}"))
        .split(':')
        .map(String::from)
        .collect();
    let mem_kib: i64 = sh("awk '/^MemTotal:/ {print $2}' /proc/meminfo")
        .parse()
        .unwrap();
    let mounts: BTreeSet<String> = sh("awk '$1 ~ /^\\// {print $2}' /proc/mounts")
        .lines()
        .map(String::from)
        .collect();
    let truth = [
        ("hostname", json!(sh("uname -n").split('.').next().unwrap())),
        ("nodename", json!(sh("uname -n"))),
        ("kernel", json!(sh("uname -r"))),
        ("kernel_version", json!(sh("uname -v"))),
        ("machine_id", json!(sh("cat /etc/machine-id"))),
        ("memtotal_mb", json!(mem_kib / 1024)),
        (
            "processor_nproc",
            json!(std::thread::available_parallelism().unwrap().get()),
        ),
        ("user_uid", json!(passwd[2].parse::<i64>().unwrap())),
        ("user_gid", json!(passwd[3].parse::<i64>().unwrap())),
        ("user_dir", json!(passwd[5])),
        ("user_shell", json!(passwd[6])),
        (
            "interfaces",
            normalised(&json!(sh("ls /sys/class/net").lines().collect::<Vec<_>>())),
        ),
    ];
    for (name, expected) in truth {
        if normalised(&facts[name]) != expected {
            problems.push(format!(
                "{name}: this machine says {expected}, rollout {}",
                facts[name]
            ));
        }
    }
    let gathered_mounts: BTreeSet<String> = (facts["mounts"].as_array().unwrap().iter())
        .map(|m| m["mount"].as_str().unwrap().to_string())
        .collect();
    if gathered_mounts != mounts {
        problems.push(format!(
            "mounts: /proc/mounts has {mounts:?}, rollout {gathered_mounts:?}"
        ));
    }
    if facts["env"]["HOME"] != json!(passwd[5]) {
        problems.push(format!(
            "env.HOME: {} (home is {})",
            facts["env"]["HOME"], passwd[5]
        ));
    }
    let epoch: i64 = facts["date_time"]["epoch"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - epoch).abs() > 120 {
        problems.push(format!("date_time.epoch: {epoch}, the clock says {now}"));
    }

    // 4. Machine facts exactly, where they were recorded.
    let here =
        sh("cat /etc/machine-id") == recorded.machine_id && sh("uname -r") == recorded.kernel;
    if here {
        for name in MACHINE_FACTS {
            let ansible = recorded.facts.get(*name).map(normalised);
            if ansible.is_some() && facts.get(*name).map(normalised) != ansible {
                problems.push(format!(
                    "{name}: Ansible {ansible:?}, rollout {}",
                    facts[*name]
                ));
            }
        }
        for family in ["default_ipv4", "default_ipv6"] {
            for key in [
                "address",
                "gateway",
                "interface",
                "netmask",
                "network",
                "prefix",
                "mtu",
            ] {
                let ansible = &recorded.facts[family][key];
                if facts[family][key] != *ansible {
                    problems.push(format!(
                        "{family}.{key}: Ansible {ansible}, rollout {}",
                        facts[family][key]
                    ));
                }
            }
        }
        for name in recorded.facts["interfaces"].as_array().unwrap() {
            let name = name.as_str().unwrap().replace('-', "_");
            for key in [
                "ipv4",
                "ipv6",
                "macaddress",
                "mtu",
                "active",
                "type",
                "promisc",
            ] {
                let ansible = &recorded.facts[&name][key];
                if facts[&name][key] != *ansible {
                    problems.push(format!(
                        "{name}.{key}: Ansible {ansible}, rollout {}",
                        facts[&name][key]
                    ));
                }
            }
        }
        let sizes = |m: &Json| {
            json!([
                m["mount"],
                m["device"],
                m["fstype"],
                m["options"],
                m["size_total"],
                m["block_total"],
                m["inode_total"],
                m["uuid"]
            ])
        };
        let ansible: Vec<Json> = recorded.facts["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(sizes)
            .collect();
        let mine: Vec<Json> = facts["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(sizes)
            .collect();
        if ansible != mine {
            problems.push(format!("mounts: Ansible {ansible:?}, rollout {mine:?}"));
        }
    } else {
        eprintln!(
            "facts: recorded on another machine; compared by shape and ground truth only: {}",
            MACHINE_FACTS.join(", ")
        );
    }
    assert!(
        problems.is_empty(),
        "facts differ from Ansible's:\n  {}",
        problems.join("\n  ")
    );
}

/// Gathering takes the play's `become`, as Ansible's implicit setup task
/// does: the facts are root's; without it, the login user's.
#[test]
fn gathering_takes_the_plays_become() {
    let fleet = Fleet::up(1, 96);
    let out = fleet.path("users");
    let pb = fleet.write(
        "become.yaml",
        &format!(
            r#"
- hosts: host1
  become: true
  tasks:
    - shell: echo "{{{{ ansible_user_id }}}}" > {out}
      delegate_to: localhost
      become: false
- hosts: host1
  tasks:
    - shell: echo "{{{{ ansible_user_id }}}}" >> {out}
      delegate_to: localhost
"#
        ),
    );
    let run = fleet.play(&pb, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let users = std::fs::read_to_string(out).unwrap();
    let login = fleet.info["deploy_user"].as_str().unwrap();
    assert_eq!(users, format!("root\n{login}\n"));
}
