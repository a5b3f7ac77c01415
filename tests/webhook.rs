//! `--notify-webhook`: JSON events for start, host failure and the end of
//! the run reach a real HTTP listener, retried when it answers 500, and a
//! dead webhook never fails the run.

mod common;

use common::rollout;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Accepts POSTs; the first answer is a 500, the rest 200. Bodies in order.
fn receiver() -> (String, Arc<Mutex<Vec<Json>>>) {
    listen(None)
}

/// [`receiver`] over TLS with the test certificate (tests/fixtures/tls).
fn tls_receiver() -> (String, Arc<Mutex<Vec<Json>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = common::fixtures().join("tls");
    let certs = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    listen(Some(Arc::new(config)))
}

fn listen(tls: Option<Arc<rustls::ServerConfig>>) -> (String, Arc<Mutex<Vec<Json>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().take(20).enumerate() {
            let Ok(stream) = stream else { continue };
            let body = match &tls {
                Some(config) => {
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    answer(rustls::StreamOwned::new(conn, stream), n)
                }
                None => answer(stream, n),
            };
            if let Some(body) = body.filter(|_| n > 0) {
                store.lock().unwrap().push(body);
            }
        }
    });
    (url, seen)
}

/// Reads one POST and answers it: 500 to the first (`n == 0`), else 200.
fn answer<S: Read + Write>(stream: S, n: usize) -> Option<Json> {
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let status = if n == 0 {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.flush();
    Some(serde_json::from_slice(&body).unwrap_or(Json::Null))
}

fn play(dir: &std::path::Path, webhook: &str) -> common::Outcome {
    std::fs::write(
        dir.join("inv"),
        "local1 ansible_connection=local\nlocal2 ansible_connection=local\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("pb.yaml"),
        "- name: patch\n  hosts: all\n  tasks:\n    - fail: { msg: boom }\n      when: inventory_hostname == 'local2'\n",
    )
    .unwrap();
    let (pb, inv) = (dir.join("pb.yaml"), dir.join("inv"));
    rollout(&[
        "play",
        pb.to_str().unwrap(),
        "-i",
        inv.to_str().unwrap(),
        "--notify-webhook",
        webhook,
    ])
}

#[test]
fn events_reach_the_webhook_and_a_500_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver();
    let out = play(dir.path(), &url);
    assert_eq!(out.code, 2, "{}", out.all());
    let events = seen.lock().unwrap().clone();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    // The first post (rollout_started) got a 500 and was sent again.
    assert_eq!(
        kinds,
        [
            "rollout_started",
            "host_failed",
            "rollout_finished_with_errors"
        ],
        "{events:?}"
    );
    assert_eq!(events[1]["host"], "local2");
    assert_eq!(events[1]["msg"], "boom");
    assert_eq!(events[2]["failed_hosts"], serde_json::json!(["local2"]));
    assert_eq!(events[2]["hosts"], 2);
}

#[test]
fn a_dead_webhook_never_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = std::time::Instant::now();
    let out = play(dir.path(), &format!("http://{closed}/hook"));
    assert_eq!(out.code, 2, "the play's own outcome: {}", out.all());
    assert!(
        started.elapsed().as_secs() < 15,
        "the end of the run waits a bounded time"
    );
    let bad = play(dir.path(), "ftp://nope");
    assert_eq!(bad.code, 5, "{}", bad.all());
    assert!(bad.all().contains("--notify-webhook"), "{}", bad.all());
}

#[test]
fn a_play_level_notify_webhook_gets_the_same_events_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver();
    let (pb, inv) = one_local_host(
        dir.path(),
        "- name: patch\n  hosts: all\n  notify_webhook: \"{{ hook }}\"\n  tasks:\n    - debug: { msg: hi }\n",
    );
    let hook = format!("hook={url}");
    let base = ["play", pb.to_str().unwrap(), "-i", inv.to_str().unwrap()];
    // The same URL from the play and the command line: posted once.
    let mut args = base.to_vec();
    args.extend(["-e", &hook, "--notify-webhook", &url]);
    let out = rollout(&args);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(kinds(&seen), ["rollout_started", "rollout_completed"]);
    // A bad URL is an error naming the play's keyword and line.
    let mut args = base.to_vec();
    args.extend(["-e", "hook=ftp://nope"]);
    let bad = rollout(&args);
    assert_ne!(bad.code, 0, "{}", bad.all());
    assert!(bad.all().contains("notify_webhook:"), "{}", bad.all());
    assert!(bad.all().contains("pb.yaml:1"), "{}", bad.all());
}

#[test]
fn an_https_webhook_is_verified_against_the_trusted_roots() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = tls_receiver();
    std::fs::write(dir.path().join("inv"), "local1 ansible_connection=local\n").unwrap();
    let pb = dir.path().join("pb.yaml");
    std::fs::write(&pb, "- hosts: all\n  tasks:\n    - debug: { msg: hi }\n").unwrap();
    let args = [
        "play",
        pb.to_str().unwrap(),
        "-i",
        dir.path().join("inv").to_str().unwrap(),
        "--notify-webhook",
        &url,
    ]
    .map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Trusting another certificate only (not the CA that signed the
    // listener's): nothing is posted, and the run is not failed for it.
    let other = common::fixtures().join("tls/cert.pem");
    let out = common::rollout_env(&args, &[("SSL_CERT_FILE", other.to_str().unwrap())]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(seen.lock().unwrap().is_empty());
    // Trusted through SSL_CERT_FILE: the events arrive over TLS.
    let ca = common::fixtures().join("tls/ca.pem");
    let out = common::rollout_env(&args, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(kinds(&seen), ["rollout_started", "rollout_completed"]);
}

/// The `event` of each post received, in order.
/// `pb.yaml` holding `playbook` and an inventory of one local host, in `dir`.
fn one_local_host(
    dir: &std::path::Path,
    playbook: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (pb, inv) = (dir.join("pb.yaml"), dir.join("inv"));
    std::fs::write(&inv, "local1 ansible_connection=local\n").unwrap();
    std::fs::write(&pb, playbook).unwrap();
    (pb, inv)
}

fn kinds(seen: &Mutex<Vec<Json>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect()
}

#[test]
fn a_vaulted_value_never_reaches_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = receiver();
    let (pb, inv) = one_local_host(
        dir.path(),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail: { msg: \"denied {{ api_key }}\" }\n",
    );
    let vault = common::fixtures().join("vault");
    let out = rollout(&[
        "play",
        pb.to_str().unwrap(),
        "-i",
        inv.to_str().unwrap(),
        "-e",
        &format!("@{}", vault.join("inline-1.1.yml").display()),
        "--vault-password-file",
        vault.join("pw-default.txt").to_str().unwrap(),
        "--notify-webhook",
        &url,
    ]);
    assert_eq!(out.code, 2, "{}", out.all());
    let events = seen.lock().unwrap().clone();
    let failed = events.iter().find(|e| e["event"] == "host_failed").unwrap();
    assert_eq!(failed["msg"], "denied ********", "{events:?}");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("inline-1.1-fixture"), "{all}");
}
