//! Network modules over real OpenSSH hosts (tests/bed): `uri`, `get_url`,
//! `wait_for` and `ec2_metadata_facts`, reached from the host's side
//! through its SSH connection, and through curl on a host whose sshd
//! refuses forwarding.

mod common;

use common::fleet::Fleet;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python3 -m http.server` over a directory, stopped by PID on drop.
struct FileServer {
    child: Child,
    port: u16,
}

impl FileServer {
    fn start(dir: &std::path::Path) -> FileServer {
        let port = free_port();
        let args = [
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ];
        let mut cmd = Command::new("python3");
        cmd.args(args).arg("--directory").arg(dir);
        FileServer::spawn(cmd, port)
    }

    /// An HTTPS server (the test certificate, tests/fixtures/tls) that
    /// answers every GET with `tls ok`.
    fn tls() -> FileServer {
        let port = free_port();
        let tls = common::fixtures().join("tls");
        let script = format!(
            r#"
import http.server, ssl
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"tls ok\n"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", {port}), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("{cert}", "{key}")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"#,
            cert = tls.join("cert.pem").display(),
            key = tls.join("key.pem").display()
        );
        let mut cmd = Command::new("python3");
        cmd.args(["-c", &script]);
        FileServer::spawn(cmd, port)
    }

    fn spawn(mut cmd: Command, port: u16) -> FileServer {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the python3 server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        FileServer { child, port }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn imds_log(fleet: &Fleet, host: usize) -> String {
    fs::read_to_string(fleet.dir.join(format!("host{}/imds.log", host + 1))).unwrap_or_default()
}

#[test]
fn uri_speaks_http_from_the_host_and_from_the_controller() {
    let fleet = Fleet::up(2, 30);
    let pb = fleet.write(
        "uri.yaml",
        r#"
- hosts: web
  tasks:
    - uri:
        url: "{{ imds_endpoint }}/latest/api/token"
        method: PUT
        headers: { X-aws-ec2-metadata-token-ttl-seconds: "60" }
        return_content: true
      register: token
    - uri:
        url: "{{ imds_endpoint }}/latest/meta-data/instance-id"
        headers: { X-aws-ec2-metadata-token: "{{ token.content }}" }
        return_content: true
      register: iid
    - uri:
        url: "{{ imds_endpoint }}/latest/dynamic/instance-identity/document"
        headers: { X-aws-ec2-metadata-token: "{{ token.content }}" }
      register: doc
    - name: IMDSv2 refuses a request without a token
      uri: { url: "{{ imds_endpoint }}/latest/meta-data/instance-id", status_code: [401, 403] }
      register: denied
    - name: the same from the controller
      uri: { url: "{{ imds_endpoint }}/latest/meta-data/instance-id", status_code: 401 }
      delegate_to: localhost
    - copy:
        dest: "{{ bed_root }}/uri-result"
        content: "{{ iid.content }} {{ doc.json.instanceId }} {{ denied.status }} {{ doc.content_type }}"
    - name: an unexpected status fails the task
      uri: { url: "{{ imds_endpoint }}/latest/meta-data/instance-id" }
    - copy: { dest: "{{ bed_root }}/not-reached", content: "" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("Status code was 401 and not [200]");
    for i in 0..2 {
        let iid = fleet.host(i)["default_instance_id"].as_str().unwrap();
        let result = fs::read_to_string(fleet.root(i).join("uri-result")).unwrap();
        assert_eq!(result, format!("{iid} {iid} 401 application/json"));
        assert!(!fleet.root(i).join("not-reached").exists());
        assert!(out.recap(&format!("host{}", i + 1)).contains("failed=1"));
        // rollout's own HTTP client sent these, not curl.
        let log = imds_log(&fleet, i);
        assert!(
            log.contains("\"PUT /latest/api/token HTTP/1.1\" 200"),
            "{log}"
        );
        assert!(!log.contains("agent=curl"), "{log}");
    }
}

#[test]
fn ec2_metadata_facts_through_the_connection_and_through_curl() {
    let fleet = Fleet::up_with(2, 31, &["--no-forwarding", "host2"]);
    let pb = fleet.write(
        "facts.yaml",
        r#"
- hosts: web
  tasks:
    - ec2_metadata_facts:
    - copy:
        dest: "{{ bed_root }}/facts"
        content: "{{ ansible_ec2_instance_id }} {{ ansible_ec2_placement_region }} {{ ansible_ec2_instance_identity_document_instanceid }}"
    - name: uri falls back to curl as well
      uri:
        url: "{{ imds_endpoint }}/latest/api/token"
        method: PUT
        headers: { X-aws-ec2-metadata-token-ttl-seconds: "5" }
"#,
    );
    let out = fleet.play(&pb, &[]);
    assert_eq!(out.code, 0, "{}", out.all());
    for i in 0..2 {
        let h = fleet.host(i);
        let iid = h["default_instance_id"].as_str().unwrap();
        let facts = fs::read_to_string(fleet.root(i).join("facts")).unwrap();
        assert_eq!(
            facts,
            format!("{iid} {} {iid}", h["region"].as_str().unwrap())
        );
    }
    // host1 forwards; host2's sshd refuses, so curl on host2 asked instead.
    assert!(!imds_log(&fleet, 0).contains("agent=curl"));
    let log = imds_log(&fleet, 1);
    assert!(log.contains("agent=curl/"), "{log}");
    assert!(log.contains("GET /latest/meta-data/instance-id"), "{log}");
}

#[test]
fn get_url_downloads_verifies_and_is_idempotent() {
    let fleet = Fleet::up(1, 32);
    let site = tempfile::tempdir().unwrap();
    fs::write(site.path().join("app-2.0.tar.gz"), b"release 2.0\n").unwrap();
    let server = FileServer::start(site.path());
    let sha = "sha256:7bd4f8a4ee03b4a2e6cbf5ba8e1ba45a0fc6d9cdac0453e6b0fa1fbb39b1f19c";
    let actual = {
        use std::io::Write;
        let mut child = Command::new("sha256sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"release 2.0\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        format!(
            "sha256:{}",
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .unwrap()
        )
    };
    assert_ne!(sha, actual, "the wrong checksum really is wrong");
    let pb = fleet.write(
        "get.yaml",
        r#"
- hosts: web
  tasks:
    - get_url:
        url: "http://127.0.0.1:{{ port }}/app-2.0.tar.gz"
        dest: "{{ bed_root }}/"
        mode: "0640"
        checksum: "{{ checksum }}"
      register: got
    - copy: { dest: "{{ bed_root }}/changed", content: "{{ got.changed | lower }} {{ got.dest }}" }
"#,
    );
    let port = format!("port={}", server.port);
    let good = format!("checksum={actual}");
    let file = fleet.root(0).join("app-2.0.tar.gz");

    let out = fleet.play(&pb, &["-e", &port, "-e", &good, "--check"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!file.exists(), "--check writes nothing");

    let out = fleet.play(&pb, &["-e", &port, "-e", &good]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(fs::read(&file).unwrap(), b"release 2.0\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let changed = fs::read_to_string(fleet.root(0).join("changed")).unwrap();
    assert_eq!(changed, format!("true {}", file.display()));

    let out = fleet.play(&pb, &["-e", &port, "-e", &good]);
    assert_eq!(out.code, 0, "{}", out.all());
    let changed = fs::read_to_string(fleet.root(0).join("changed")).unwrap();
    assert!(
        changed.starts_with("false "),
        "second run changes nothing: {changed}"
    );

    // A new release whose checksum does not match is never written.
    fs::write(site.path().join("app-2.0.tar.gz"), b"tampered\n").unwrap();
    let out = fleet.play(&pb, &["-e", &port, "-e", &good]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("did not match");
    assert_eq!(fs::read(&file).unwrap(), b"release 2.0\n");

    let missing = fleet.write(
        "missing.yaml",
        "- hosts: web\n  tasks:\n    - get_url: { url: \"http://127.0.0.1:{{ port }}/nope\", dest: /tmp/rollout-never }\n",
    );
    let out = fleet.play(&missing, &["-e", &port]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("HTTP 404");
}

#[test]
fn wait_for_ports_paths_and_drained_connections() {
    let fleet = Fleet::up(1, 33);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // One live connection that the test closes after 1.5 s.
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (served, _) = listener.accept().unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(client);
        drop(served);
    });
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pb = fleet.write(
        "wait.yaml",
        r#"
- hosts: web
  tasks:
    - wait_for: { port: "{{ port }}", timeout: 5 }
    - wait_for: { port: "{{ ansible_port }}", host: "{{ ansible_host }}", search_regex: OpenSSH }
    - wait_for: { port: "{{ closed }}", state: stopped, timeout: 5 }
    - wait_for:
        port: "{{ port }}"
        state: drained
        active_connection_states: [ESTABLISHED]
        sleep: 0.2
        timeout: 20
      register: drain
    - shell: "printf 'booting\nready pid=42\n' > {{ bed_root }}/app.log"
    - wait_for: { path: "{{ bed_root }}/app.log", search_regex: "ready pid=(?P<pid>\\d+)" }
      register: ready
    - wait_for: { path: "{{ bed_root }}/gone", state: absent, timeout: 2 }
    - copy: { dest: "{{ bed_root }}/waited", content: "{{ drain.elapsed }} {{ ready.match_groupdict.pid }}" }
    - wait_for: { port: "{{ closed }}", timeout: 1, msg: "the app never listened" }
"#,
    );
    let started = Instant::now();
    let out = fleet.play(
        &pb,
        &[
            "-e",
            &format!("port={port}"),
            "-e",
            &format!("closed={closed}"),
        ],
    );
    closer.join().unwrap();
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("the app never listened");
    let waited = fs::read_to_string(fleet.root(0).join("waited")).unwrap();
    let (drain_secs, pid) = waited.split_once(' ').unwrap();
    assert_eq!(pid, "42");
    assert!(
        drain_secs.parse::<u64>().unwrap() >= 1,
        "drained only after the close: {waited}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    drop(listener);
}

#[test]
fn uri_speaks_https_through_the_connection_verified_by_the_controller() {
    let fleet = Fleet::up_with(2, 57, &["--no-forwarding", "host2"]);
    let server = FileServer::tls();
    let pb = fleet.write(
        "https.yaml",
        &format!(
            r#"
- hosts: web
  tasks:
    - uri: {{ url: "https://127.0.0.1:{port}/", return_content: true, validate_certs: "{{{{ verify | bool }}}}" }}
      register: answer
    - copy: {{ dest: "{{{{ bed_root }}}}/https", content: "{{{{ answer.content }}}}" }}
"#,
            port = server.port
        ),
    );
    let ca = common::fixtures().join("tls/ca.pem");
    let ca = ca.to_str().unwrap();
    // host1 through forwarding: the controller trusts the test CA.
    let out = fleet.play_env(
        &pb,
        &["--limit", "host1", "-e", "verify=true"],
        &[("SSL_CERT_FILE", ca)],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(fleet.root(0).join("https")).unwrap(),
        "tls ok\n"
    );
    // Trusting only another certificate: refused, naming the reason.
    let other = common::fixtures().join("tls/cert.pem");
    let out = fleet.play_env(
        &pb,
        &["--limit", "host1", "-e", "verify=true"],
        &[("SSL_CERT_FILE", other.to_str().unwrap())],
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("UnknownIssuer");
    // validate_certs: false, with forwarding and through curl (host2).
    let out = fleet.play_env(
        &pb,
        &["-e", "verify=false"],
        &[("SSL_CERT_FILE", other.to_str().unwrap())],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(fleet.root(1).join("https")).unwrap(),
        "tls ok\n"
    );
}

/// An HTTP listener on `ip` that records each request's path and whether it
/// carried `Authorization` / `Cookie`, answering `/away` with a redirect to
/// `away` (another host), `/same` with one to `/final`, anything else 200.
fn recorder(
    ip: &str,
    away: Option<String>,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut path, mut creds) = (String::new(), String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if path.is_empty() {
                    path = line.split(' ').nth(1).unwrap_or("").to_string();
                } else if lower.starts_with("authorization:") || lower.starts_with("cookie:") {
                    creds.push_str(&lower[..lower.find(':').unwrap() + 1]);
                }
            }
            store
                .lock()
                .unwrap()
                .push(format!("{path} {creds}").trim().to_string());
            let answer = match (path.as_str(), &away) {
                ("/away", Some(away)) => format!("HTTP/1.1 302 Found\r\nLocation: {away}/final\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                ("/same", _) => "HTTP/1.1 302 Found\r\nLocation: /final\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                _ => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n".to_string(),
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (base, seen)
}

#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    let (second, second_seen) = recorder("127.0.0.2", None);
    let (first, first_seen) = recorder("127.0.0.1", Some(second));
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory");
    fs::write(&inventory, "ctl ansible_connection=local\n").unwrap();
    let playbook = dir.path().join("redirects.yaml");
    let creds = r#"{Authorization: "Bearer t0ken", Cookie: "session=s3cr3t"}"#;
    let d = dir.path().display();
    fs::write(
        &playbook,
        format!(
            "- hosts: ctl
  tasks:
    - uri: {{url: '{first}/away', headers: {creds}}}
    - get_url: {{url: '{first}/away', dest: '{d}/away.out', headers: {creds}}}
    - uri: {{url: '{first}/same', headers: {creds}}}
    - get_url: {{url: '{first}/same', dest: '{d}/same.out', headers: {creds}}}
"
        ),
    )
    .unwrap();
    let out = common::rollout(&[
        "play",
        playbook.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        fs::read_to_string(dir.path().join("away.out")).unwrap(),
        "ok\n"
    );
    assert_eq!(
        *second_seen.lock().unwrap(),
        ["/final", "/final"],
        "the other host never sees the credentials"
    );
    let with_creds = "authorization:cookie:";
    assert_eq!(
        *first_seen.lock().unwrap(),
        [
            format!("/away {with_creds}"),
            format!("/away {with_creds}"),
            format!("/same {with_creds}"),
            format!("/final {with_creds}"),
            format!("/same {with_creds}"),
            format!("/final {with_creds}"),
        ],
        "a redirect on the same host keeps them"
    );
}

/// A controller-side HTTP server for downloads: `/big/N` answers N bytes
/// generated on the fly (no Content-Length cap on memory, nothing on
/// disk), `/drip/N` one byte-chunk every 2 s N times, `/stall` a first
/// chunk then silence for 5 s. Served until the test process ends.
fn generator() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut path = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if path.is_empty() {
                        path = line.split(' ').nth(1).unwrap_or("").to_string();
                    }
                }
                let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                let n: u64 = parts.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
                let head = |len: u64| {
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
                };
                match parts[0] {
                    "big" => {
                        let _ = stream.write_all(head(n).as_bytes());
                        let block = pattern(1 << 20);
                        let mut left = n;
                        while left > 0 {
                            let take = left.min(block.len() as u64) as usize;
                            if stream.write_all(&block[..take]).is_err() {
                                return;
                            }
                            left -= take as u64;
                        }
                    }
                    "drip" => {
                        let _ = stream.write_all(head(n).as_bytes());
                        for _ in 0..n {
                            std::thread::sleep(Duration::from_secs(2));
                            let _ = stream.write_all(b"x");
                        }
                    }
                    _ => {
                        let _ = stream.write_all(head(2).as_bytes());
                        let _ = stream.write_all(b"x");
                        std::thread::sleep(Duration::from_secs(5));
                        let _ = stream.write_all(b"y");
                    }
                }
            });
        }
    });
    port
}

/// The bytes `/big/N` serves: a 1 MiB pattern, repeated.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// `sha256:<hex>` of `/big/N`'s bytes.
fn big_sha256(n: usize) -> String {
    use sha2::Digest;
    let block = pattern(1 << 20);
    let mut h = sha2::Sha256::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len());
        h.update(&block[..take]);
        left -= take;
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// The largest resident set of any child this test process waited for.
fn children_max_rss_mb() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss as u64 / 1024
}

/// A local-connection play of `tasks` (YAML lines under `tasks:`).
fn local_play(dir: &std::path::Path, tasks: &str) -> common::Outcome {
    let inventory = dir.join("inventory");
    fs::write(&inventory, "ctl ansible_connection=local\n").unwrap();
    let playbook = dir.join("play.yaml");
    fs::write(&playbook, format!("- hosts: ctl\n  tasks:\n{tasks}")).unwrap();
    common::rollout(&[
        "play",
        playbook.to_str().unwrap(),
        "-i",
        inventory.to_str().unwrap(),
    ])
}

#[test]
fn get_url_streams_200_mb_in_bounded_controller_memory() {
    const SIZE: usize = 200 << 20;
    let port = generator();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.bin");
    let out = local_play(
        dir.path(),
        &format!(
            "    - get_url: {{ url: 'http://127.0.0.1:{port}/big/{SIZE}', dest: '{}', checksum: '{}' }}\n",
            dest.display(),
            big_sha256(SIZE)
        ),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(fs::metadata(&dest).unwrap().len(), SIZE as u64);
    // Every child so far counts (other tests' rollout runs are far smaller).
    let rss = children_max_rss_mb();
    assert!(
        rss < 100,
        "rollout held {rss} MB for a {} MB download",
        SIZE >> 20
    );
}

#[test]
fn get_url_timeout_bounds_each_read_not_the_transfer() {
    let port = generator();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // 5 chunks 2 s apart: 10 s in all, never 3 s without data.
    let started = Instant::now();
    let out = local_play(
        dir.path(),
        &format!(
            "    - get_url: {{ url: 'http://127.0.0.1:{port}/drip/5', dest: '{d}/drip', timeout: 3 }}\n"
        ),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(fs::read(dir.path().join("drip")).unwrap(), b"xxxxx");
    assert!(started.elapsed() >= Duration::from_secs(9));
    // 5 s without data, with `timeout: 3`: fails, and writes nothing.
    let out = local_play(
        dir.path(),
        &format!(
            "    - get_url: {{ url: 'http://127.0.0.1:{port}/stall', dest: '{d}/stall', timeout: 3 }}\n"
        ),
    );
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("no data received for 3s");
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".rollout") || n == "stall")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn get_url_streams_through_the_connection_and_through_curl() {
    const SIZE: usize = 30 << 20;
    let fleet = Fleet::up_with(2, 80, &["--no-forwarding", "host2"]);
    let port = generator();
    let pb = fleet.write(
        "big.yaml",
        r#"
- hosts: web
  tasks:
    - get_url:
        url: "http://127.0.0.1:{{ port }}/{{ path }}"
        dest: "{{ bed_root }}/big.bin"
        checksum: "{{ sum }}"
        mode: "0600"
        timeout: 2
      register: got
    - copy: { dest: "{{ bed_root }}/changed", content: "{{ got.changed | lower }} {{ got.size }}" }
"#,
    );
    let (port, sum) = (format!("port={port}"), format!("sum={}", big_sha256(SIZE)));
    let path = format!("path=big/{SIZE}");
    for expected in ["true", "false"] {
        let out = fleet.play(&pb, &["-e", &port, "-e", &sum, "-e", &path]);
        assert_eq!(out.code, 0, "{}", out.all());
        for i in 0..2 {
            let file = fleet.root(i).join("big.bin");
            assert_eq!(fs::metadata(&file).unwrap().len(), SIZE as u64);
            let changed = fs::read_to_string(fleet.root(i).join("changed")).unwrap();
            assert_eq!(changed, format!("{expected} {SIZE}"), "host{}", i + 1);
        }
    }
    // A wrong checksum, and a stalled server: nothing written, no temp left.
    let wrong = format!("sum={}", big_sha256(SIZE - 1));
    let out = fleet.play(&pb, &["-e", &port, "-e", &wrong, "-e", "path=big/1000"]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("did not match");
    let out = fleet.play(&pb, &["-e", &port, "-e", &sum, "-e", "path=stall"]);
    assert_eq!(out.code, 2, "{}", out.all());
    out.assert_says("no data received for 2s");
    out.assert_says("Operation too slow");
    for i in 0..2 {
        assert_eq!(
            fs::metadata(fleet.root(i).join("big.bin")).unwrap().len(),
            SIZE as u64
        );
        let temps: Vec<_> = fs::read_dir(fleet.root(i))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".rollout"))
            .collect();
        assert!(temps.is_empty(), "host{}: {temps:?}", i + 1);
    }
}
