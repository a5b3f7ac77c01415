//! `wait_for`: wait until a port answers (or stops answering, or has no
//! active connections left: `drained`), a path exists (or holds a regex, or
//! is gone), all seen from the host: ports through a forwarded channel,
//! connections and files through commands on the host. Waits use tokio's
//! clock so tests can pause it.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, choices, p};
use super::{ModuleContext, TaskResult, Vars, arg_secs, arg_str};
use crate::connection::{Connection, ConnectionError};
use crate::core::shell_quote;
use regex::Regex;
use serde_json::Value as Json;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, sleep, timeout};

/// `wait_for`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "wait_for",
        &[
            p("host", Kind::Str),
            p("port", Kind::Int),
            aliases(p("path", Kind::Str), &["dest"]),
            p("search_regex", Kind::Str),
            choices(
                p("state", Kind::Str),
                &["started", "stopped", "present", "absent", "drained"],
            ),
            p("timeout", Kind::Duration),
            p("delay", Kind::Duration),
            p("sleep", Kind::Duration),
            p("connect_timeout", Kind::Duration),
            p("active_connection_states", Kind::List),
            p("exclude_hosts", Kind::List),
            p("msg", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

/// Ansible's default set for `drained`: every state of a live connection.
const ACTIVE_STATES: &[&str] = &[
    "ESTABLISHED",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "SYN_RECV",
    "SYN_SENT",
    "TIME_WAIT",
];
/// A banner longer than this without a match is not going to match.
const MAX_READ: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Present,
    Absent,
    Drained,
}

struct Settings {
    host: String,
    port: Option<u16>,
    path: Option<String>,
    search: Option<Regex>,
    want: Want,
    timeout: Duration,
    delay: Duration,
    sleep: Duration,
    connect_timeout: Duration,
    active_states: Vec<String>,
    exclude_hosts: Vec<String>,
    msg: Option<String>,
}

fn strings(args: &Vars, key: &str) -> Option<Vec<String>> {
    args.get(key).and_then(Json::as_array).map(|items| {
        items
            .iter()
            .map(crate::core::display_text)
            .collect::<Vec<String>>()
    })
}

impl Settings {
    fn from_args(args: &Vars) -> Result<Settings, String> {
        let port = match args.get("port") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port must be 1..65535, not {v}"))?,
            ),
        };
        let path = arg_str(args, "path").map(str::to_string);
        if port.is_some() && path.is_some() {
            return Err("port and path are mutually exclusive".into());
        }
        let want = match arg_str(args, "state").unwrap_or("started") {
            "started" | "present" => Want::Present,
            "stopped" | "absent" => Want::Absent,
            "drained" => Want::Drained,
            other => return Err(format!("unknown state '{other}'")),
        };
        if want == Want::Drained && port.is_none() {
            return Err("state=drained needs a port".into());
        }
        let search = match arg_str(args, "search_regex") {
            None => None,
            Some(text) => Some(
                regex::RegexBuilder::new(text)
                    .multi_line(true)
                    .build()
                    .map_err(|e| format!("invalid search_regex: {e}"))?,
            ),
        };
        if search.is_some() && want != Want::Present {
            return Err("search_regex only works with state=started or present".into());
        }
        let active_states = strings(args, "active_connection_states")
            .unwrap_or_else(|| ACTIVE_STATES.iter().map(|s| s.to_string()).collect());
        if let Some(bad) = active_states.iter().find(|s| state_code(s).is_none()) {
            return Err(format!(
                "unknown connection state '{bad}' in active_connection_states"
            ));
        }
        Ok(Settings {
            host: arg_str(args, "host").unwrap_or("127.0.0.1").to_string(),
            port,
            path,
            search,
            want,
            timeout: arg_secs(args, "timeout", 300.0)?,
            delay: arg_secs(args, "delay", 0.0)?,
            sleep: arg_secs(args, "sleep", 1.0)?,
            connect_timeout: arg_secs(args, "connect_timeout", 5.0)?,
            active_states,
            exclude_hosts: strings(args, "exclude_hosts").unwrap_or_default(),
            msg: arg_str(args, "msg").map(str::to_string),
        })
    }

    fn what(&self) -> String {
        match (&self.port, &self.path) {
            (Some(port), _) => format!("{}:{port}", self.host),
            (_, Some(path)) => path.clone(),
            _ => "the timeout".into(),
        }
    }
}

/// One look at the condition: met (with regex groups), not yet, or a reason
/// to stop waiting at once.
enum Check {
    Met(Option<Vec<Option<String>>>),
    NotYet(String),
}

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let settings = match Settings::from_args(args) {
        Ok(s) => s,
        Err(e) => return TaskResult::failed(e),
    };
    wait(ctx.conn, &settings).await
}

async fn wait(conn: &dyn Connection, s: &Settings) -> TaskResult {
    let started = Instant::now();
    sleep(s.delay).await;
    if s.port.is_none() && s.path.is_none() {
        // Ansible's meaning: with nothing to watch, just wait `timeout`.
        sleep(s.timeout).await;
        return done(s, started, None);
    }
    let deadline = started + s.timeout;
    let mut cursor = FileCursor::default();
    loop {
        let last = match check(conn, s, &mut cursor).await {
            Ok(Check::Met(groups)) => return done(s, started, groups),
            Ok(Check::NotYet(why)) => why,
            Err(ConnectionError::Unreachable(m)) => return TaskResult::unreachable(m),
            Err(e) => return TaskResult::failed(e.to_string()),
        };
        if Instant::now() + s.sleep >= deadline {
            let msg = s.msg.clone().unwrap_or_else(|| {
                format!(
                    "Timeout when waiting for {} ({}s): {last}",
                    s.what(),
                    s.timeout.as_secs_f64()
                )
            });
            return TaskResult::failed(msg).with("elapsed", started.elapsed().as_secs());
        }
        sleep(s.sleep).await;
    }
}

fn done(s: &Settings, started: Instant, groups: Option<Vec<Option<String>>>) -> TaskResult {
    let mut result = TaskResult::ok().with("elapsed", started.elapsed().as_secs());
    if let Some(port) = s.port {
        result = result.with("port", port);
    }
    if let Some(path) = &s.path {
        result = result.with("path", path.clone());
    }
    if let (Some(groups), Some(re)) = (groups, &s.search) {
        let named: serde_json::Map<String, Json> = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, name)| Some((name?.to_string(), groups.get(i)?.clone().into())))
            .collect();
        result = result
            .with(
                "match_groups",
                groups.into_iter().skip(1).collect::<Vec<_>>(),
            )
            .with("match_groupdict", Json::Object(named));
    }
    result
}

async fn check(
    conn: &dyn Connection,
    s: &Settings,
    cursor: &mut FileCursor,
) -> Result<Check, ConnectionError> {
    match (s.port, &s.path, s.want) {
        (Some(port), _, Want::Drained) => drained(conn, s, port).await,
        (Some(port), _, want) => port_check(conn, s, port, want).await,
        (None, Some(path), want) => path_check(conn, s, path, want, cursor).await,
        (None, None, _) => Ok(Check::Met(None)),
    }
}

async fn port_check(
    conn: &dyn Connection,
    s: &Settings,
    port: u16,
    want: Want,
) -> Result<Check, ConnectionError> {
    let opened = match timeout(s.connect_timeout, conn.open_tcp(&s.host, port)).await {
        Err(_) => Err(format!(
            "connecting timed out after {:?}",
            s.connect_timeout
        )),
        Ok(Err(ConnectionError::Failed(m))) => Err(m),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(stream)) => Ok(stream),
    };
    match (opened, want) {
        (Err(_), Want::Absent) => Ok(Check::Met(None)),
        (Ok(_), Want::Absent) => Ok(Check::NotYet(format!(
            "{}:{port} still accepts connections",
            s.host
        ))),
        (Err(why), _) => Ok(Check::NotYet(why)),
        (Ok(mut stream), _) => {
            let Some(re) = &s.search else {
                return Ok(Check::Met(None));
            };
            // Read what the server says until the regex matches, it closes,
            // or it has been quiet for connect_timeout.
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while seen.len() < MAX_READ {
                match timeout(s.connect_timeout, stream.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => break,
                }
                if let Some(groups) = captures(re, &String::from_utf8_lossy(&seen)) {
                    return Ok(Check::Met(Some(groups)));
                }
            }
            Ok(Check::NotYet(format!(
                "{}:{port} did not send a match for the regex",
                s.host
            )))
        }
    }
}

/// How far a watched file has been read: each poll transfers only what
/// was appended since, searched together with the unfinished last line. A
/// file that shrank (rotated, truncated) is read again from its start.
#[derive(Debug, Default)]
struct FileCursor {
    offset: u64,
    carry: String,
}

impl FileCursor {
    /// The command printing `SIZE OFFSET` then the bytes from the offset.
    fn command(&self, quoted: &str) -> String {
        format!(
            "test -r {quoted} && {{ s=$(wc -c < {quoted}) && o={off} && if [ \"$s\" -lt \"$o\" ]; then o=0; fi && \
             echo \"$s $o\" && tail -c +$((o + 1)) {quoted}; }}",
            off = self.offset
        )
    }

    /// The text to search now: the carry and the new bytes.
    fn advance(&mut self, stdout: &[u8]) -> String {
        let (head, new) = match stdout.iter().position(|&b| b == b'\n') {
            Some(i) => (&stdout[..i], &stdout[i + 1..]),
            None => (stdout, &[][..]),
        };
        let head = String::from_utf8_lossy(head);
        let start: u64 = head
            .split(' ')
            .nth(1)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        if start < self.offset {
            self.carry.clear();
        }
        self.offset = start + new.len() as u64;
        let text = format!("{}{}", self.carry, String::from_utf8_lossy(new));
        // Keep the unfinished last line, so a match split by a poll is found.
        let tail = text.rfind('\n').map_or(0, |i| i + 1);
        self.carry = text[tail..]
            .chars()
            .rev()
            .take(MAX_READ)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        text
    }
}

async fn path_check(
    conn: &dyn Connection,
    s: &Settings,
    path: &str,
    want: Want,
    cursor: &mut FileCursor,
) -> Result<Check, ConnectionError> {
    let quoted = shell_quote(path);
    let command = match s.search {
        Some(_) => cursor.command(&quoted),
        None => format!("test -e {quoted}"),
    };
    let out = conn.exec(&command, None).await?;
    let exists = out.rc == 0;
    Ok(match (want, exists, &s.search) {
        (Want::Absent, false, _) => Check::Met(None),
        (Want::Absent, true, _) => Check::NotYet(format!("{path} still exists")),
        (_, false, _) => Check::NotYet(format!("{path} does not exist (or is unreadable)")),
        (_, true, None) => Check::Met(None),
        (_, true, Some(re)) => match captures(re, &cursor.advance(&out.stdout)) {
            Some(groups) => Check::Met(Some(groups)),
            None => Check::NotYet(format!("{path} does not match the regex yet")),
        },
    })
}

fn captures(re: &Regex, text: &str) -> Option<Vec<Option<String>>> {
    re.captures(text).map(|c| {
        c.iter()
            .map(|m| m.map(|m| m.as_str().to_string()))
            .collect()
    })
}

/// Counts the host's connections on `port` in an active state, from
/// `/proc/net/tcp{,6}` (no `ss` or `netstat` needed on the host).
async fn drained(conn: &dyn Connection, s: &Settings, port: u16) -> Result<Check, ConnectionError> {
    let out = conn
        .exec("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", None)
        .await?;
    if out.stdout.is_empty() {
        return Err(ConnectionError::Failed(
            "state=drained reads /proc/net/tcp, which this host does not have".into(),
        ));
    }
    let states: Vec<u8> = s
        .active_states
        .iter()
        .filter_map(|n| state_code(n))
        .collect();
    let live = active_connections(&String::from_utf8_lossy(&out.stdout), port, &states)
        .into_iter()
        .filter(|remote| !s.exclude_hosts.iter().any(|h| h == remote))
        .count();
    Ok(if live == 0 {
        Check::Met(None)
    } else {
        Check::NotYet(format!("{live} active connection(s) on port {port}"))
    })
}

/// The kernel's number for a TCP state name.
fn state_code(name: &str) -> Option<u8> {
    Some(match name.to_ascii_uppercase().as_str() {
        "ESTABLISHED" => 0x01,
        "SYN_SENT" => 0x02,
        "SYN_RECV" => 0x03,
        "FIN_WAIT1" => 0x04,
        "FIN_WAIT2" => 0x05,
        "TIME_WAIT" => 0x06,
        "CLOSE" => 0x07,
        "CLOSE_WAIT" => 0x08,
        "LAST_ACK" => 0x09,
        "LISTEN" => 0x0A,
        "CLOSING" => 0x0B,
        _ => return None,
    })
}

/// The remote addresses of connections whose local port is `port` and whose
/// state is one of `states`, from `/proc/net/tcp` text.
fn active_connections(table: &str, port: u16, states: &[u8]) -> Vec<String> {
    table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            let state = u8::from_str_radix(state, 16).ok()?;
            (local_port == port && states.contains(&state)).then(|| decode_address(remote))?
        })
        .collect()
}

/// `0100007F:1F90` → `127.0.0.1`; IPv6 as four little-endian words.
fn decode_address(field: &str) -> Option<String> {
    let hex = field.split_once(':')?.0;
    let bytes = hex::decode(hex).ok()?;
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[3], bytes[2], bytes[1], bytes[0]).to_string()),
        16 => {
            let mut octets = [0u8; 16];
            for (word, chunk) in bytes.chunks(4).enumerate() {
                for (i, b) in chunk.iter().rev().enumerate() {
                    octets[word * 4 + i] = *b;
                }
            }
            let v6 = std::net::Ipv6Addr::from(octets);
            Some(
                v6.to_ipv4_mapped()
                    .map(|v4| v4.to_string())
                    .unwrap_or(v6.to_string()),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{BoxStream, ExecOutput};
    use serde_json::json;
    use std::sync::Mutex;

    /// A host whose service comes up at `up_at` and whose connections all
    /// close at `drained_at`, on tokio's (paused) clock. Commands answer as
    /// a real host's would (`test -e`, `cat /proc/net/tcp`).
    struct Host {
        up_at: Instant,
        drained_at: Instant,
        file_at: Instant,
        probes: Mutex<Vec<Duration>>,
        start: Instant,
    }

    impl Host {
        fn new(up: u64, drained: u64, file: u64) -> Host {
            let now = Instant::now();
            Host {
                up_at: now + Duration::from_secs(up),
                drained_at: now + Duration::from_secs(drained),
                file_at: now + Duration::from_secs(file),
                probes: Mutex::new(Vec::new()),
                start: now,
            }
        }
        fn note(&self) {
            self.probes.lock().unwrap().push(self.start.elapsed());
        }
    }

    const TABLE_HEAD: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    #[async_trait::async_trait]
    impl Connection for Host {
        async fn exec(
            &self,
            command: &str,
            _: Option<&[u8]>,
        ) -> Result<ExecOutput, ConnectionError> {
            self.note();
            let now = Instant::now();
            let (rc, stdout) = if command.starts_with("cat /proc/net/tcp") {
                let mut table = TABLE_HEAD.to_string();
                table.push_str("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1\n");
                if now < self.drained_at {
                    table.push_str("   1: 0100007F:1F90 0200007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 2\n");
                }
                (0, table)
            } else if command.starts_with("test -r") {
                if now >= self.file_at {
                    (0, "22 0\nbooting\nready pid=42\n".into())
                } else {
                    (1, String::new())
                }
            } else {
                (i32::from(now < self.file_at), String::new())
            };
            Ok(ExecOutput {
                rc,
                stdout: stdout.into_bytes(),
                ..Default::default()
            })
        }

        async fn open_tcp(&self, _: &str, _: u16) -> Result<BoxStream, ConnectionError> {
            self.note();
            if Instant::now() < self.up_at {
                return Err(ConnectionError::Failed("connection refused".into()));
            }
            let (client, mut server) = tokio::io::duplex(1024);
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = server.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
                sleep(Duration::from_secs(3600)).await;
            });
            Ok(Box::new(client))
        }
    }

    async fn run_on(host: &Host, args: serde_json::Value) -> TaskResult {
        let settings = Settings::from_args(args.as_object().unwrap()).unwrap();
        wait(host, &settings).await
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_a_port_to_open_polling_every_sleep() {
        let host = Host::new(5, 0, 0);
        let r = run_on(&host, json!({"port": 8080, "sleep": 1, "timeout": 30})).await;
        assert!(!r.failed, "{r:?}");
        assert_eq!(r.data["elapsed"], 5);
        // Probes at 0,1,…,5 s: one per `sleep`, none after success.
        assert_eq!(host.probes.lock().unwrap().len(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn delay_comes_first_and_timeout_fails_with_the_reason() {
        let host = Host::new(1000, 0, 0);
        let r = run_on(
            &host,
            json!({"port": 8080, "delay": 3, "timeout": 10, "sleep": 2}),
        )
        .await;
        assert!(r.failed);
        let msg = r.msg.unwrap();
        assert!(
            msg.contains("Timeout when waiting for 127.0.0.1:8080"),
            "{msg}"
        );
        assert!(msg.contains("connection refused"), "{msg}");
        let probes = host.probes.lock().unwrap().clone();
        assert_eq!(probes.first(), Some(&Duration::from_secs(3)));
        assert!(
            probes.iter().all(|p| *p <= Duration::from_secs(10)),
            "{probes:?}"
        );
        let r = run_on(
            &host,
            json!({"port": 8080, "timeout": 1, "msg": "app never came up"}),
        )
        .await;
        assert_eq!(r.msg.as_deref(), Some("app never came up"));
    }

    #[tokio::test(start_paused = true)]
    async fn search_regex_on_a_port_banner_and_in_a_file() {
        let host = Host::new(0, 0, 4);
        let r = run_on(&host, json!({"port": 22, "search_regex": "OpenSSH_(\\d+)"})).await;
        assert_eq!(r.data["match_groups"], json!(["9"]), "{r:?}");
        let r = run_on(
            &host,
            json!({"path": "/var/run/app.log", "search_regex": "^ready pid=(?P<pid>\\d+)"}),
        )
        .await;
        assert!(!r.failed, "{r:?}");
        assert_eq!(r.data["elapsed"], 4);
        assert_eq!(r.data["match_groupdict"], json!({"pid": "42"}));
    }

    /// The local shell, counting the output bytes it hands back.
    struct Counting(std::sync::atomic::AtomicUsize);

    #[async_trait::async_trait]
    impl Connection for Counting {
        async fn exec(&self, cmd: &str, i: Option<&[u8]>) -> Result<ExecOutput, ConnectionError> {
            let out = crate::connection::local::LocalConnection
                .exec(cmd, i)
                .await?;
            (self.0).fetch_add(out.stdout.len(), std::sync::atomic::Ordering::Relaxed);
            Ok(out)
        }
    }

    #[tokio::test]
    async fn a_watched_file_is_read_once_then_only_what_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let noise = "x".repeat(1 << 20) + "\nboot";
        std::fs::write(&log, &noise).unwrap();
        let conn = Counting(Default::default());
        let args = json!({"path": log, "search_regex": "^booted pid=(\\d+)", "sleep": 0.05, "timeout": 20});
        let settings = Settings::from_args(&super::super::Vars::from_iter(
            args.as_object().unwrap().clone(),
        ))
        .unwrap();
        let append = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            f.write_all(b"ed pid=7\n").unwrap();
        };
        let (r, ()) = tokio::join!(wait(&conn, &settings), append);
        assert_eq!(r.data["match_groups"], json!(["7"]), "{r:?}");
        let read = conn.0.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            read < noise.len() + 4096,
            "{read} bytes read for a 1 MiB file"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn drained_waits_until_no_connection_is_active() {
        let host = Host::new(0, 7, 0);
        let r = run_on(&host, json!({"port": 8080, "state": "drained"})).await;
        assert!(!r.failed, "{r:?}");
        assert_eq!(r.data["elapsed"], 7);
        let excluded = Host::new(0, 100, 0);
        let r = run_on(
            &excluded,
            json!({"port": 8080, "state": "drained", "exclude_hosts": ["127.0.0.2"]}),
        )
        .await;
        assert_eq!(
            r.data["elapsed"], 0,
            "the only connection is from an excluded host"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn absent_and_stopped() {
        let host = Host::new(0, 0, 0);
        let r = run_on(
            &host,
            json!({"port": 8080, "state": "stopped", "timeout": 3}),
        )
        .await;
        assert!(r.failed && r.msg.unwrap().contains("still accepts"));
        let host = Host::new(0, 0, 1000);
        let r = run_on(&host, json!({"path": "/tmp/x", "state": "absent"})).await;
        assert!(!r.failed, "{r:?}");
    }

    #[test]
    fn bad_arguments_are_refused() {
        let bad = |v: serde_json::Value| Settings::from_args(v.as_object().unwrap()).err().unwrap();
        assert!(bad(json!({"port": 1, "path": "/x"})).contains("mutually exclusive"));
        assert!(bad(json!({"state": "drained"})).contains("needs a port"));
        assert!(bad(json!({"port": 70000})).contains("1..65535"));
        assert!(bad(json!({"path": "/x", "search_regex": "("})).contains("invalid search_regex"));
        assert!(
            bad(json!({"port": 1, "state": "drained", "active_connection_states": ["NOPE"]}))
                .contains("NOPE")
        );
    }

    #[test]
    fn proc_net_tcp_addresses() {
        assert_eq!(
            decode_address("0100007F:1F90").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            decode_address("0000000000000000FFFF00000100007F:1F90").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            decode_address("00000000000000000000000001000000:0016").as_deref(),
            Some("::1")
        );
    }
}
