//! HAProxy through its runtime API (one command per connection, as in
//! `socat`'s non-interactive use): a unix socket on the controller or on an
//! inventory host (through that host's connection), or `tcp://HOST:PORT`.
//!
//! Mapping onto ELBv2's states: `set server state drain` is deregistering;
//! a draining server with open sessions is `draining`, without any it is
//! `unused` (then `state maint`). After `state ready` HAProxy sends traffic
//! at once, before any check passes — so the lifecycle confirms the app's
//! health first — and the server is `healthy` once its status is UP.

use super::{Health, State, Target, TrafficError, TrafficManager};
use crate::connection::{Connection, ConnectionError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Haproxy {
    /// Opens the socket: the controller's (local) or a host's connection.
    conn: Arc<dyn Connection>,
    address: Address,
    backend: String,
    /// The inventory host whose socket this is, for the restore hint.
    via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(String),
    Tcp(String, u16),
}

impl Address {
    pub fn parse(socket: &str) -> Result<Address, String> {
        match socket.strip_prefix("tcp://") {
            Some(rest) => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| format!("haproxy socket {socket}: write tcp://HOST:PORT"))?;
                let port = port
                    .parse()
                    .map_err(|_| format!("haproxy socket {socket}: bad port '{port}'"))?;
                Ok(Address::Tcp(host.to_string(), port))
            }
            None if socket.starts_with('/') => Ok(Address::Unix(socket.to_string())),
            None => Err(format!(
                "haproxy socket '{socket}' must be an absolute unix socket path or tcp://HOST:PORT"
            )),
        }
    }
}

impl Haproxy {
    pub fn new(conn: Arc<dyn Connection>, address: Address, backend: &str) -> Haproxy {
        Haproxy {
            conn,
            address,
            backend: backend.to_string(),
            via: None,
        }
    }

    /// The socket belongs to inventory host `host` (reached over SSH).
    pub fn via(mut self, host: Option<&str>) -> Haproxy {
        self.via = host.map(str::to_string);
        self
    }

    /// Sends one runtime API command and reads the whole answer.
    pub async fn command(&self, line: &str) -> Result<String, TrafficError> {
        runtime_command(&*self.conn, &self.address, line).await
    }

    async fn set_state(&self, target: &Target, state: &str) -> Result<(), TrafficError> {
        let answer = self
            .command(&format!(
                "set server {}/{} state {state}",
                self.backend, target.id
            ))
            .await?;
        check_answer(&answer, &self.backend, &target.id)
    }
}

/// Checks a backend or server name before it goes into a runtime API
/// command: HAProxy's names are letters, digits and `-_.:`, and the API
/// takes `;` and newlines as command separators, so anything else could
/// run a command nobody wrote.
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    match name.chars().find(|c| !allowed(*c)) {
        None if !name.is_empty() => Ok(()),
        None => Err(format!("the HAProxy {kind} name is empty")),
        Some(c) => Err(format!(
            "the HAProxy {kind} name {name:?} holds {c:?}: HAProxy names are letters, digits \
             and - _ . : only"
        )),
    }
}

/// Sends one runtime API command over a socket that `conn` opens (the
/// controller's, or the host's for the `haproxy` module) and reads the
/// whole answer.
pub async fn runtime_command(
    conn: &dyn Connection,
    address: &Address,
    line: &str,
) -> Result<String, TrafficError> {
    // One command per call: a separator would start another.
    if line.contains([';', '\n', '\r']) {
        return Err(TrafficError::Setup(
            format!(
                "refusing to send {line:?} to the HAProxy runtime API: it holds a command separator"
            )
            .into(),
        ));
    }
    let exchange = async {
        let mut stream = match address {
            Address::Unix(path) => conn.open_unix(path).await,
            Address::Tcp(host, port) => conn.open_tcp(host, *port).await,
        }
        .map_err(|e| match e {
            ConnectionError::Unreachable(m) => TrafficError::Api(m.into()),
            other => TrafficError::Api(
                format!("cannot reach the HAProxy runtime API at {address:?}: {other}").into(),
            ),
        })?;
        let io = |e: std::io::Error| TrafficError::Api(format!("HAProxy runtime API: {e}").into());
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(io)?;
        stream.flush().await.map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.map_err(io)?;
        Ok(answer)
    };
    tokio::time::timeout(COMMAND_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(TrafficError::Api(
                format!("HAProxy did not answer `{line}` in time").into(),
            ))
        })
}

/// `set server` answers nothing on success, a sentence otherwise.
pub fn check_answer(answer: &str, backend: &str, server: &str) -> Result<(), TrafficError> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(());
    }
    if answer.contains("No such backend") {
        return Err(TrafficError::NotFound(
            format!("HAProxy has no backend '{backend}'").into(),
        ));
    }
    if answer.contains("No such server") {
        return Err(TrafficError::InvalidTarget(
            format!("HAProxy backend '{backend}' has no server '{server}'").into(),
        ));
    }
    Err(TrafficError::Api(
        format!("HAProxy answered: {answer}").into(),
    ))
}

/// The servers of `backend` from `show stat` CSV.
pub fn parse_stat(csv: &str, backend: &str) -> Result<HashMap<Target, Health>, TrafficError> {
    let mut lines = csv.lines();
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .ok_or_else(|| {
            TrafficError::Api(format!("HAProxy's show stat was not CSV: {}", csv.trim()).into())
        })?;
    let columns: Vec<&str> = header.split(',').collect();
    let col = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| TrafficError::Api(format!("show stat has no '{name}' column").into()))
    };
    let (px, sv, scur, status, check) = (
        col("pxname")?,
        col("svname")?,
        col("scur")?,
        col("status")?,
        col("check_status")?,
    );
    let mut servers = HashMap::new();
    let mut backend_seen = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let get = |i: usize| fields.get(i).copied().unwrap_or("");
        if get(px) != backend {
            continue;
        }
        backend_seen = true;
        if matches!(get(sv), "FRONTEND" | "BACKEND") {
            continue;
        }
        let sessions: u64 = get(scur).parse().unwrap_or(0);
        let health = health_of(get(status), sessions, get(check));
        let target = Target {
            id: get(sv).to_string(),
            port: None,
        };
        servers.insert(target, health);
    }
    if !backend_seen {
        return Err(TrafficError::NotFound(
            format!("HAProxy has no backend '{backend}'").into(),
        ));
    }
    Ok(servers)
}

fn health_of(status: &str, sessions: u64, check: &str) -> Health {
    let state = match status.split_whitespace().next().unwrap_or("") {
        "UP" | "no" | "NOLB" => State::Healthy,
        // "DOWN 1/2": checks are passing but not enough of them yet.
        "DOWN" if status.contains('/') => State::Initial,
        "DOWN" => State::Unhealthy,
        "DRAIN" if sessions > 0 => State::Draining,
        "DRAIN" | "MAINT" => State::Unused,
        _ => State::Unavailable,
    };
    let reason = (!check.is_empty()).then(|| format!("{status}, check {check}"));
    Health {
        state,
        reason: reason.or_else(|| Some(status.to_string())),
        sessions: Some(sessions),
    }
}

#[async_trait]
impl TrafficManager for Haproxy {
    fn name(&self) -> String {
        format!("haproxy backend {}", self.backend)
    }

    fn lock_key(&self) -> String {
        let socket = match &self.address {
            Address::Unix(path) => path.clone(),
            Address::Tcp(host, port) => format!("tcp://{host}:{port}"),
        };
        let via = self.via.as_deref().unwrap_or("");
        format!("haproxy-{via}-{socket}-{}", self.backend)
    }

    fn restore_hint(&self, target: &Target) -> String {
        let command = format!("set server {}/{} state ready", self.backend, target.id);
        match (&self.address, &self.via) {
            (Address::Unix(path), Some(host)) => {
                format!("ssh {host} \"echo '{command}' | sudo socat stdio {path}\"")
            }
            (Address::Unix(path), None) => format!("echo '{command}' | socat stdio {path}"),
            (Address::Tcp(h, p), _) => format!("echo '{command}' | socat stdio tcp:{h}:{p}"),
        }
    }

    async fn describe(&self) -> Result<HashMap<Target, Health>, TrafficError> {
        let csv = self.command("show stat").await?;
        parse_stat(&csv, &self.backend)
    }

    async fn deregister(&self, target: &Target) -> Result<(), TrafficError> {
        self.set_state(target, "drain").await
    }

    async fn drained(&self, target: &Target) -> Result<(), TrafficError> {
        self.set_state(target, "maint").await
    }

    async fn register(&self, target: &Target) -> Result<(), TrafficError> {
        self.set_state(target, "ready").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_haproxy_names_only() {
        for ok in ["app", "web-1.example.com", "srv_2:8080"] {
            assert!(check_name("server", ok).is_ok(), "{ok}");
        }
        for bad in ["a;b", "a b", "a\nset server x/y state maint", ""] {
            assert!(check_name("server", bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_command_separator_never_reaches_the_runtime_api() {
        let conn = crate::connection::local::LocalConnection;
        let address = Address::Unix("/nonexistent/admin.sock".into());
        for line in [
            "show stat; disable server app/web2",
            "show stat\nshutdown frontend web",
        ] {
            let err = runtime_command(&conn, &address, line).await.unwrap_err();
            assert!(err.to_string().contains("command separator"), "{err}");
        }
    }

    const STAT: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code\n\
front,FRONTEND,,,0,1,2000,1,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,\n\
app,host1,0,0,0,1,,1,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,5,0,,1,3,1,,1,,2,0,,1,L7OK,200\n\
app,host2,0,0,2,2,,5,0,0,,0,,0,0,0,0,DRAIN,1,1,0,0,0,5,0,,1,3,2,,1,,2,0,,1,L7OK,200\n\
app,host3,0,0,0,2,,5,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,5,0,,1,3,3,,1,,2,0,,1,L7OK,200\n\
app,host4,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,1,1,0,0,0,5,0,,1,3,4,,1,,2,0,,1,L7OK,200\n\
app,host5,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,0,0,5,0,,1,3,5,,1,,2,0,,1,L4CON,\n\
app,BACKEND,0,0,2,2,200,6,0,0,0,0,,0,0,0,0,UP,4,4,0,,0,5,0,,1,3,0,,6,,1,0,,2,,\n";

    fn state(map: &HashMap<Target, Health>, id: &str) -> State {
        map[&Target {
            id: id.into(),
            port: None,
        }]
            .state
    }

    #[test]
    fn show_stat_maps_onto_elbv2_states() {
        let servers = parse_stat(STAT, "app").unwrap();
        assert_eq!(servers.len(), 5);
        assert_eq!(state(&servers, "host1"), State::Healthy);
        assert_eq!(state(&servers, "host2"), State::Draining);
        assert_eq!(state(&servers, "host3"), State::Unused);
        assert_eq!(state(&servers, "host4"), State::Initial);
        assert_eq!(state(&servers, "host5"), State::Unhealthy);
        assert!(matches!(
            parse_stat(STAT, "nope"),
            Err(TrafficError::NotFound(_))
        ));
        assert!(parse_stat("Unknown command\n", "app").is_err());
    }

    #[test]
    fn answers_and_addresses() {
        assert!(check_answer("\n", "app", "h").is_ok());
        assert!(matches!(
            check_answer("No such server.\n", "app", "h"),
            Err(TrafficError::InvalidTarget(_))
        ));
        assert!(matches!(
            check_answer("No such backend.\n", "app", "h"),
            Err(TrafficError::NotFound(_))
        ));
        assert_eq!(
            Address::parse("tcp://127.0.0.1:9999").unwrap(),
            Address::Tcp("127.0.0.1".into(), 9999)
        );
        assert!(Address::parse("admin.sock").is_err());
    }
}
