//! The SSH transport against a real OpenSSH server on 127.0.0.1.

#[path = "support/sshd.rs"]
mod sshd;

use rollout::connection::{Connection, ConnectionError};
use rollout::http::{self, HttpRequest};
use rollout::ssh::{HostKeyPolicy, SshOptions, SshPool, open_tcp, open_unix};
use serde_json::{Map, Value as Json, json};
use sshd::{Keys, Sshd, USER, keys};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn vars(sshd: &Sshd, key: &Path) -> Map<String, Json> {
    json!({
        "ansible_host": "127.0.0.1",
        "ansible_port": sshd.port,
        "ansible_user": USER,
        "ansible_ssh_private_key_file": key,
    })
    .as_object()
    .cloned()
    .unwrap()
}

fn options(known_hosts: PathBuf) -> SshOptions {
    SshOptions {
        known_hosts_files: Some(vec![known_hosts]),
        // No ~/.ssh/config of the machine running the tests.
        config_file: Some(PathBuf::from("/nonexistent/ssh_config")),
        connect_attempts: 2,
        ..SshOptions::default()
    }
}

fn trusted_pool(sshd: &Sshd) -> SshPool {
    SshPool::new(options(sshd.known_hosts(&["127.0.0.1"]))).unwrap()
}

fn unreachable(result: Result<impl std::fmt::Debug, ConnectionError>) -> String {
    match result {
        Err(ConnectionError::Unreachable(message)) => message,
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn exec_collects_output_status_and_stdin() {
    let sshd = Sshd::start();
    let pool = trusted_pool(&sshd);
    let conn = pool
        .connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();

    let out = conn
        .exec("cat; echo err >&2; exit 3", Some(b"in\0put"))
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout.as_slice(), out.stderr.as_slice()),
        (3, &b"in\0put"[..], &b"err\n"[..])
    );

    let out = conn.exec("whoami", None).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), USER);

    // Large binary output and input, in both directions at once.
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = conn
        .exec("cat; head -c 4000000 /dev/zero", Some(&input))
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 7_000_000);
    assert_eq!(&out.stdout[..input.len()], input.as_slice());

    // Commands without stdin share a persistent shell: nothing they do may
    // leak into the next one.
    let out = conn.exec("echo 'unterminated", None).await.unwrap();
    assert_eq!(out.rc, 2, "syntax error: {out:?}");
    let out = conn
        .exec("cd /tmp; X=1; printf partial; printf e >&2; exit 5", None)
        .await
        .unwrap();
    assert_eq!(
        (out.rc, out.stdout.as_slice(), out.stderr.as_slice()),
        (5, &b"partial"[..], &b"e"[..])
    );
    let out = conn
        .exec("pwd; echo \"${X:-unset}\"; cat", None)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("/home/{USER}\nunset\n")
    );

    let out = conn.exec("kill -9 $$", None).await.unwrap();
    assert_eq!(out.rc, 137, "signal exit is 128+n");

    // Many commands at once on the one connection (more than MaxSessions).
    let runs = (0..24).map(|i| {
        let conn = conn.clone();
        async move { conn.exec(&format!("echo {i}"), None).await.unwrap() }
    });
    for (i, out) in futures::future::join_all(runs)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), i.to_string());
    }

    // The pool hands out the same connection; lazy connections use it too.
    let again = pool
        .connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&conn, &again));
    let lazy = pool.lazy("web1", vars(&sshd, &keys().ed25519).into());
    assert_eq!(
        lazy.exec("echo lazy", None).await.unwrap().stdout,
        b"lazy\n"
    );

    let started = Instant::now();
    for _ in 0..50 {
        conn.exec("true", None).await.unwrap();
    }
    eprintln!("exec round trip: {:?} per command", started.elapsed() / 50);
}

#[tokio::test]
async fn rsa_key_signs_with_sha2() {
    let sshd = Sshd::start();
    let conn = trusted_pool(&sshd)
        .connect("web1", &vars(&sshd, &keys().rsa))
        .await
        .unwrap();
    assert_eq!(conn.exec("echo ok", None).await.unwrap().stdout, b"ok\n");
}

#[tokio::test]
async fn unknown_host_key_is_refused_with_fingerprint() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("empty_known_hosts");
    let pool = SshPool::new(options(known_hosts.clone())).unwrap();
    let message = unreachable(pool.connect("web1", &vars(&sshd, &keys().ed25519)).await);
    assert!(message.contains("SHA256:"), "{message}");
    assert!(
        message.contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port)),
        "{message}"
    );
    assert!(
        message.contains("--host-key-checking accept-new"),
        "{message}"
    );
    assert!(!known_hosts.exists());
}

#[tokio::test]
async fn accept_new_records_the_key() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("kh/known_hosts");
    let pool = SshPool::new(SshOptions {
        host_key_policy: Some(HostKeyPolicy::AcceptNew),
        ..options(known_hosts.clone())
    })
    .unwrap();
    pool.connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    assert_eq!(
        recorded,
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_key())
    );
    // Strict now accepts it.
    let strict = SshPool::new(options(known_hosts)).unwrap();
    strict
        .connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();
}

#[tokio::test]
async fn changed_host_key_is_refused_naming_the_line() {
    let sshd = Sshd::start();
    let known_hosts = sshd.dir.path().join("known_hosts");
    let other = std::fs::read_to_string(keys().stranger.with_extension("pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    std::fs::write(
        &known_hosts,
        format!("# first\n[127.0.0.1]:{} {}\n", sshd.port, other.join(" ")),
    )
    .unwrap();
    for policy in [
        HostKeyPolicy::Strict,
        HostKeyPolicy::AcceptNew,
        HostKeyPolicy::Off,
    ] {
        let pool = SshPool::new(SshOptions {
            host_key_policy: Some(policy),
            ..options(known_hosts.clone())
        })
        .unwrap();
        let message = unreachable(pool.connect("web1", &vars(&sshd, &keys().ed25519)).await);
        assert!(message.contains("CHANGED"), "{message}");
        assert!(
            message.contains(&format!("{}:2", known_hosts.display())),
            "{message}"
        );
    }
}

#[tokio::test]
async fn keys_encrypted_and_refused() {
    let sshd = Sshd::start();
    // The only test that sets the variable; other tests use plain keys.
    unsafe { std::env::set_var(rollout::ssh::auth::PASSPHRASE_ENV, sshd::PASSPHRASE) };
    let conn = trusted_pool(&sshd)
        .connect("web1", &vars(&sshd, &keys().encrypted))
        .await
        .unwrap();
    assert_eq!(conn.exec("echo ok", None).await.unwrap().stdout, b"ok\n");

    let stranger = &keys().stranger;
    let message = unreachable(
        trusted_pool(&sshd)
            .connect("web1", &vars(&sshd, stranger))
            .await,
    );
    assert!(
        message.contains(&format!(
            "permission denied for {USER} on 127.0.0.1:{}",
            sshd.port
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("{} (refused)", stranger.display())),
        "{message}"
    );

    let missing = keys().dir().join("nope");
    let message = unreachable(
        trusted_pool(&sshd)
            .connect("web1", &vars(&sshd, &missing))
            .await,
    );
    assert!(message.contains("nope (not found)"), "{message}");
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = SshPool::new(options(PathBuf::from("/nonexistent/kh"))).unwrap();
    let v = json!({"ansible_host": "127.0.0.1", "ansible_port": port})
        .as_object()
        .cloned()
        .unwrap();
    let message = unreachable(pool.connect("web9", &v).await);
    assert!(
        message.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{message}"
    );
    assert!(
        message.contains("refused") && message.contains("2 attempts"),
        "{message}"
    );
}

#[tokio::test]
async fn a_host_that_never_answers_the_banner_is_unreachable_within_the_timeout() {
    // Accepts, then says nothing: a hung sshd or a black-holing middlebox.
    let listener = tokio::net::TcpListener::bind("127.0.0.203:0")
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let pool = SshPool::new(options(PathBuf::from("/nonexistent/kh"))).unwrap();
    let v = json!({"ansible_host": "127.0.0.203", "ansible_port": port, "ansible_ssh_timeout": 2})
        .as_object()
        .cloned()
        .unwrap();
    let started = Instant::now();
    let message = unreachable(pool.connect("mute", &v).await);
    let took = started.elapsed();
    silent.abort();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "bounded by ansible_ssh_timeout: {took:?}"
    );
    assert!(
        message.contains(&format!("127.0.0.203:{port} timed out"))
            && message.contains("no answer within 2s"),
        "{message}"
    );
}

#[tokio::test]
async fn proxy_jump_through_the_same_sshd() {
    let sshd = Sshd::start();
    let keys: &Keys = keys();
    let config = sshd.dir.path().join("ssh_config");
    // The jump host's user and key come from the config, as with OpenSSH.
    std::fs::write(
        &config,
        format!(
            "Host 127.0.0.1\n  User {USER}\n  IdentityFile {}\n",
            keys.ed25519.display()
        ),
    )
    .unwrap();
    let pool = SshPool::new(SshOptions {
        config_file: Some(config),
        ..options(sshd.known_hosts(&["127.0.0.1", "localhost"]))
    })
    .unwrap();
    let mut v = vars(&sshd, &keys.ed25519);
    v.insert("ansible_host".into(), "localhost".into());
    v.insert(
        "ansible_ssh_common_args".into(),
        format!("-o ProxyJump=127.0.0.1:{}", sshd.port).into(),
    );
    let conn = pool.connect("behind", &v).await.unwrap();
    assert_eq!(
        conn.target().proxy_jump.as_deref(),
        Some(format!("127.0.0.1:{}", sshd.port).as_str())
    );
    assert_eq!(conn.exec("echo via", None).await.unwrap().stdout, b"via\n");
}

#[tokio::test]
async fn forwards_tcp_unix_and_http() {
    let sshd = Sshd::start();
    let conn = trusted_pool(&sshd)
        .connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();

    // TCP echo.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
    });
    let mut stream = open_tcp(&conn, "127.0.0.1", port).await.unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");

    // Unix socket (world-writable so the login user may connect).
    let path = sshd.dir.path().join("app.sock");
    let unix = tokio::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = unix.accept().await.unwrap();
        s.write_all(b"hello\n").await.unwrap();
    });
    let mut stream = open_unix(&conn, path.to_str().unwrap()).await.unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "hello\n");

    // HTTP through the forward, and a refused forward.
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = http.accept().await.unwrap();
        let mut buf = vec![0u8; 8192];
        let n = s.read(&mut buf).await.unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nhealthy")
            .await
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let request = HttpRequest::get(&format!("http://127.0.0.1:{http_port}/health"))
        .header("X-aws-ec2-metadata-token", "tok");
    let response = http::send(&*conn, &request).await.unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"healthy"[..])
    );
    let seen = server.await.unwrap();
    assert!(seen.starts_with("GET /health HTTP/1.1"), "{seen}");
    assert!(
        seen.to_lowercase()
            .contains("x-aws-ec2-metadata-token: tok"),
        "{seen}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    match http::send(
        &*conn,
        &HttpRequest::get(&format!("http://127.0.0.1:{closed}/")),
    )
    .await
    {
        Err(ConnectionError::Failed(message)) => assert!(message.contains("refused"), "{message}"),
        other => panic!("expected Failed, got {other:?}"),
    }
    // The connection survives a refused forward.
    assert_eq!(
        conn.exec("echo still", None).await.unwrap().stdout,
        b"still\n"
    );
}

#[tokio::test]
async fn killed_server_mid_command_is_unreachable() {
    let mut sshd = Sshd::start();
    let conn = trusted_pool(&sshd)
        .connect("web1", &vars(&sshd, &keys().ed25519))
        .await
        .unwrap();
    let running = tokio::spawn({
        let conn = conn.clone();
        async move { conn.exec("sleep 30", None).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sshd.kill();
    let result = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("exec returns")
        .unwrap();
    let message = unreachable(result);
    assert!(
        message.contains("lost while running `sleep 30`"),
        "{message}"
    );
    assert!(conn.is_closed());
}
