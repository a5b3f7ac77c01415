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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().take(20).enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            if n > 0 {
                store
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Json::Null));
            }
        }
    });
    (url, seen)
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
    std::fs::write(dir.path().join("inv"), "local1 ansible_connection=local\n").unwrap();
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "- name: patch\n  hosts: all\n  notify_webhook: \"{{ hook }}\"\n  tasks:\n    - debug: { msg: hi }\n",
    )
    .unwrap();
    let inv = dir.path().join("inv");
    let hook = format!("hook={url}");
    let base = ["play", pb.to_str().unwrap(), "-i", inv.to_str().unwrap()];
    // The same URL from the play and the command line: posted once.
    let mut args = base.to_vec();
    args.extend(["-e", &hook, "--notify-webhook", &url]);
    let out = rollout(&args);
    assert_eq!(out.code, 0, "{}", out.all());
    let kinds: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(kinds, ["rollout_started", "rollout_completed"]);
    // A bad URL is an error naming the play's keyword and line.
    let mut args = base.to_vec();
    args.extend(["-e", "hook=ftp://nope"]);
    let bad = rollout(&args);
    assert_ne!(bad.code, 0, "{}", bad.all());
    assert!(bad.all().contains("notify_webhook:"), "{}", bad.all());
    assert!(bad.all().contains("pb.yaml:1"), "{}", bad.all());
}
