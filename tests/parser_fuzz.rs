//! Every parser of text that comes from a host or a file never panics,
//! whatever it is given: arbitrary text, and valid files damaged by random
//! edits (inserted, deleted, truncated, doubled). The journal reader, the
//! known_hosts reader, ssh_config, and INI and YAML inventories.

use proptest::prelude::*;
use rollout::inventory::Inventory;
use rollout::ssh::config::SshConfig;
use rollout::ssh::known_hosts::{self, HostKeyStatus};
use std::path::Path;

/// One edit of a text: what to do, where, and what to insert.
type Edit = (u8, usize, String);

/// A seed damaged by `edits`, on char boundaries.
fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for (op, at, text) in edits {
        let at = at % (chars.len() + 1);
        match op % 4 {
            0 => {
                chars.splice(at..at, text.chars());
            }
            1 => {
                let end = (at + text.len() + 1).min(chars.len());
                chars.drain(at..end);
            }
            2 => chars.truncate(at),
            _ => {
                let copy: Vec<char> = chars[at..].iter().take(40).copied().collect();
                chars.splice(at..at, copy);
            }
        }
    }
    chars.into_iter().collect()
}

/// One of `seeds`, damaged.
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = String> {
    let edit = (
        any::<u8>(),
        any::<usize>(),
        "\\PC{0,6}|[\\[\\]{}:=,\"'\n #|@*!]{1,4}",
    );
    (0..seeds.len(), prop::collection::vec(edit, 0..6))
        .prop_map(move |(i, edits)| apply(seeds[i], &edits))
}

const JOURNALS: &[&str] = &[concat!(
    "{\"time\":\"t\",\"kind\":\"run\",\"detail\":\"/p/site.yaml\",\"identity\":",
    "{\"playbooks\":\"/p/site.yaml\",\"limit\":\"web\",\"tags\":[\"a\"],\"skip_tags\":[],",
    "\"extra_vars\":[\"v\"],\"extra_values\":\"00ff\",\"salt\":\"1-2\"}}\n",
    "{\"time\":\"t\",\"kind\":\"run_started\",\"play\":\"p\",\"detail\":\"a,b\"}\n",
    "{\"time\":\"t\",\"kind\":\"target\",\"play\":\"p\",\"host\":\"a\",\"detail\":\"i-1\",\"port\":8080}\n",
    "{\"time\":\"t\",\"kind\":\"lifecycle\",\"play\":\"p\",\"host\":\"a\",\"phase\":\"draining\",\"detail\":\"d\"}\n",
    "{\"time\":\"t\",\"kind\":\"completed\",\"play\":\"p\",\"host\":\"a\",\"detail\":\"/p/site.yaml#1 p\"}\n",
    "{\"time\":\"t\",\"kind\":\"play_stopped\",\"detail\":\"why\"}\n",
    "{\"time\":\"t\",\"kind\":\"run_ended\"}\n",
)];

const KNOWN_HOSTS: &[&str] = &[concat!(
    "# comment\n",
    "web1,10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui\n",
    "[web2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4xA3FEsb82Peoa1QBXTrvM9edA/MGrHfUYif//D+bD\n",
    "|1|tlLUqFYnRkjWsvRznv0YlGErGHE=|52k2EQfJuQ2zqsKLJeF3FuROxkQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui\n",
    "@revoked *.bad ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ4xA3FEsb82Peoa1QBXTrvM9edA/MGrHfUYif//D+bD\n",
    "@cert-authority *.corp ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQ\n",
    "!web3,web* ssh-ed25519 AAAA\n",
)];

const SSH_CONFIGS: &[&str] = &[concat!(
    "Host web* !web3\n",
    "  HostName %h.example.com\n",
    "  User deploy\n",
    "  Port 2222\n",
    "  IdentityFile ~/.ssh/id_%r\n",
    "  ProxyJump bastion\n",
    "Match host db*\n",
    "  StrictHostKeyChecking accept-new\n",
    "Host *\n",
    "  UserKnownHostsFile ~/.ssh/known_hosts ~/.ssh/known_hosts2\n",
    "  ConnectTimeout=5\n",
    "  ServerAliveInterval \"30\"\n",
)];

const INVENTORIES: &[&str] = &[
    concat!(
        "[web]\n",
        "web[1:3] ansible_user=deploy\n",
        "web[a:c].example.com\n",
        "db1 ansible_host=10.0.0.5 note=\"a b\" list='[1, 2]'\n",
        "[web:vars]\n",
        "http_port=8080\n",
        "[prod:children]\n",
        "web\n",
        "[all:vars]\n",
        "ansible_connection=local\n",
    ),
    concat!(
        "all:\n",
        "  vars:\n",
        "    greeting: hello\n",
        "  hosts:\n",
        "    solo:\n",
        "  children:\n",
        "    web:\n",
        "      hosts:\n",
        "        web[01:03]:\n",
        "          ansible_port: 2222\n",
        "    prod:\n",
        "      children:\n",
        "        web:\n",
    ),
];

fn check_journal(text: &str) -> Result<(), TestCaseError> {
    if let Err(message) = rollout::state::journal::read(Path::new("run.jsonl"), text) {
        prop_assert!(message.starts_with("run.jsonl:"), "{}", message);
    }
    Ok(())
}

fn check_known_hosts(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("known_hosts");
    std::fs::write(&file, text).unwrap();
    let key = russh::keys::PublicKey::from_openssh(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEj/gYuIOg3OngcOt1sgM2Q3n0zSruwYjG3IUWeE10ui",
    )
    .unwrap();
    for (host, port) in [("web1", 22), ("web2", 2222), ("db", 2200), ("x.bad", 22)] {
        let status = known_hosts::check(std::slice::from_ref(&file), host, port, &key);
        if let HostKeyStatus::Changed { line, .. } | HostKeyStatus::Revoked { line, .. } = status {
            assert!(line >= 1 && line <= text.lines().count(), "line {line}");
        }
    }
}

fn check_ssh_config(text: &str) {
    // Ok or an error; a parsed config resolves any host.
    if let Ok(config) = SshConfig::parse(text) {
        for host in ["web1", "web3", "db1", ""] {
            let _ = config.resolve(host);
        }
    }
}

fn check_inventory(text: &str) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inventory");
    std::fs::write(&file, text).unwrap();
    match Inventory::load(&[file]) {
        Ok(inventory) => {
            for host in inventory.hosts() {
                let _ = inventory.group_names(host);
            }
        }
        Err(diag) => {
            let shown = diag.to_string();
            prop_assert!(shown.starts_with("ERROR! "), "{}", shown);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn journal_reader_survives_damage(text in mutated(JOURNALS)) {
        check_journal(&text)?;
    }

    #[test]
    fn journal_reader_survives_anything(text in "\\PC{0,200}") {
        check_journal(&text)?;
    }

    #[test]
    fn known_hosts_survives_damage(text in mutated(KNOWN_HOSTS)) {
        check_known_hosts(&text);
    }

    #[test]
    fn known_hosts_survives_anything(text in "\\PC{0,200}") {
        check_known_hosts(&text);
    }

    #[test]
    fn ssh_config_survives_damage(text in mutated(SSH_CONFIGS)) {
        check_ssh_config(&text);
    }

    #[test]
    fn ssh_config_survives_anything(text in "\\PC{0,200}") {
        check_ssh_config(&text);
    }

    #[test]
    fn inventories_survive_damage(text in mutated(INVENTORIES)) {
        check_inventory(&text)?;
    }

    #[test]
    fn inventories_survive_anything(text in "\\PC{0,200}") {
        check_inventory(&text)?;
    }
}

/// Lines that look like journal entries, damaged in every way.
fn journalish() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("{\"time\":\"t\",\"kind\":\"run_started\",\"play\":\"p\"}\n".to_string()),
        Just(
            "{\"time\":\"t\",\"kind\":\"lifecycle\",\"host\":\"a\",\"phase\":\"draining\"}\n"
                .to_string()
        ),
        Just(
            "{\"time\":\"t\",\"kind\":\"lifecycle\",\"host\":\"a\",\"phase\":\"nope\"}\n"
                .to_string()
        ),
        Just("{\"time\":\"t\",\"kind\":\"lifecycle\"}\n".to_string()),
        Just("{\"time\":\"t\",\"kind\":\"run_ended\"}\n".to_string()),
        Just("{\"kind\":\"what\"}\n".to_string()),
        Just("{\"time\":\"t\",\"kind\":\"lifecycle\",\"host\":\"a\",\"ph".to_string()),
        "[ -~]{0,30}\n",
    ];
    prop::collection::vec(fragment, 0..10).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Lines of every kind, in any order: a status, or an error naming the line.
    #[test]
    fn journal_reader_never_panics(text in journalish()) {
        check_journal(&text)?;
    }
}
