//! `haproxy` (community.general.haproxy): enable, disable or drain a server
//! through HAProxy's runtime API. As in Ansible the socket is the host's
//! (reached through its connection); `delegate_to: localhost` uses the
//! controller's. Without `backend`, every backend holding the server is
//! changed.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_secs, arg_str};
use crate::traffic::haproxy::{Address, check_answer, check_name, parse_stat, runtime_command};
use crate::traffic::{State, Target, TrafficError};
use serde_json::Value as Json;
use std::time::Duration;

/// `haproxy`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "haproxy",
        &[
            required(choices(
                p("state", Kind::Str),
                &["enabled", "disabled", "drain"],
            )),
            required(p("host", Kind::Str)),
            p("backend", Kind::Str),
            p("socket", Kind::Str),
            p("drain", Kind::Bool),
            p("wait", Kind::Bool),
            p("wait_interval", Kind::Duration),
            p("wait_retries", Kind::Int),
            p("fail_on_not_found", Kind::Bool),
            p("shutdown_sessions", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

struct Request<'a> {
    address: Address,
    server: &'a str,
    state: &'a str,
    drain: bool,
    shutdown_sessions: bool,
    wait: bool,
    interval: Duration,
    retries: u64,
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let failed = |m: String| TaskResult::failed(m);
    let socket = arg_str(args, "socket").unwrap_or("/var/run/haproxy.sock");
    let req = Request {
        address: Address::parse(socket).map_err(failed)?,
        server: arg_str(args, "host").ok_or_else(|| failed("host is required".into()))?,
        state: arg_str(args, "state").ok_or_else(|| failed("state is required".into()))?,
        drain: arg_bool(args, "drain", false),
        shutdown_sessions: arg_bool(args, "shutdown_sessions", false),
        wait: arg_bool(args, "wait", false),
        interval: arg_secs(args, "wait_interval", 5.0).map_err(failed)?,
        retries: args
            .get("wait_retries")
            .and_then(Json::as_u64)
            .unwrap_or(25),
    };
    check_name("server", req.server).map_err(failed)?;
    if let Some(backend) = arg_str(args, "backend") {
        check_name("backend", backend).map_err(failed)?;
    }
    let api = |e: TrafficError| TaskResult::failed(e.to_string());
    let stat = runtime_command(ctx.conn, &req.address, "show stat")
        .await
        .map_err(api)?;
    let backends = match arg_str(args, "backend") {
        Some(b) => vec![b.to_string()],
        None => backends_of(&stat, req.server),
    };
    if backends.is_empty() {
        let msg = format!("HAProxy has no server '{}' in any backend", req.server);
        return if arg_bool(args, "fail_on_not_found", false) {
            Err(TaskResult::failed(msg))
        } else {
            Ok(TaskResult::ok().with_msg(msg))
        };
    }
    let mut changed = false;
    for backend in &backends {
        let before = state_of(&stat, backend, req.server).map_err(api)?;
        let wanted = match req.state {
            "enabled" => State::Healthy,
            "disabled" | "drain" => State::Unused,
            other => return Err(TaskResult::failed(format!("unknown state '{other}'"))),
        };
        let already = match req.state {
            "enabled" => before.state != State::Unused && before.state != State::Draining,
            "drain" => {
                before.state.is_draining()
                    || before
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.starts_with("DRAIN"))
            }
            _ => before
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("MAINT")),
        };
        if already {
            continue;
        }
        changed = true;
        if ctx.check_mode {
            continue;
        }
        let set = |line: String| {
            let address = &req.address;
            async move {
                let answer = runtime_command(ctx.conn, address, &line).await?;
                check_answer(&answer, backend, req.server)
            }
        };
        match req.state {
            "enabled" => set(format!("set server {backend}/{} state ready", req.server)).await,
            "drain" => set(format!("set server {backend}/{} state drain", req.server)).await,
            _ => {
                if req.drain {
                    set(format!("set server {backend}/{} state drain", req.server))
                        .await
                        .map_err(api)?;
                    wait_until(ctx, &req, backend, |h| h.sessions == Some(0)).await?;
                }
                set(format!("set server {backend}/{} state maint", req.server))
                    .await
                    .map_err(api)?;
                if req.shutdown_sessions {
                    set(format!("shutdown sessions server {backend}/{}", req.server)).await
                } else {
                    Ok(())
                }
            }
        }
        .map_err(api)?;
        if req.wait {
            wait_until(ctx, &req, backend, |h| {
                if wanted == State::Healthy {
                    h.state == State::Healthy
                } else {
                    matches!(h.state, State::Unused | State::Draining)
                }
            })
            .await?;
        }
    }
    let mut result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    result = result
        .with("backends", backends)
        .with("state", req.state)
        .with("host", req.server);
    Ok(result)
}

/// Polls `show stat` until `done` holds for the server (bounded by
/// `wait_retries` × `wait_interval`, as Ansible's module).
async fn wait_until(
    ctx: &ModuleContext<'_>,
    req: &Request<'_>,
    backend: &str,
    done: impl Fn(&crate::traffic::Health) -> bool,
) -> Result<(), TaskResult> {
    for _ in 0..=req.retries {
        let stat = runtime_command(ctx.conn, &req.address, "show stat")
            .await
            .map_err(|e| TaskResult::failed(e.to_string()))?;
        if let Ok(health) = state_of(&stat, backend, req.server)
            && done(&health)
        {
            return Ok(());
        }
        tokio::time::sleep(req.interval).await;
    }
    Err(TaskResult::failed(format!(
        "server {backend}/{} did not reach the wanted state after {} checks {}s apart",
        req.server,
        req.retries,
        req.interval.as_secs_f64()
    )))
}

fn state_of(
    stat: &str,
    backend: &str,
    server: &str,
) -> Result<crate::traffic::Health, TrafficError> {
    parse_stat(stat, backend)?
        .remove(&Target {
            id: server.to_string(),
            port: None,
        })
        .ok_or_else(|| {
            TrafficError::InvalidTarget(
                format!("backend '{backend}' has no server '{server}'").into(),
            )
        })
}

/// The backends in `show stat` that hold `server`.
fn backends_of(stat: &str, server: &str) -> Vec<String> {
    stat.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            let (px, sv) = (f.next()?, f.next()?);
            (sv == server).then(|| px.to_string())
        })
        .collect()
}
