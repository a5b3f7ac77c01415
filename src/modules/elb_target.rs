//! `elb_target` (community.aws.elb_target): register or deregister one
//! target of an ELBv2 target group, optionally waiting for a
//! `target_status`. Unlike the Ansible module, a target that is draining
//! (or drained, `unused`) counts as *not* registered, so `state: present`
//! re-registers it instead of reporting "ok" while it leaves rotation (and
//! `deregister_unused` is accepted for compatibility: an unused target is
//! already not registered).

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_secs, arg_str};
use crate::traffic::elbv2::{DESCRIBE_BURST, DESCRIBE_GAP, Elbv2, Pace};
use crate::traffic::wait::{self, PollSettings, Verdict};
use crate::traffic::{State, Target, TrafficManager};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// `elb_target`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "elb_target",
        &[
            p("target_group_arn", Kind::Str),
            p("target_group_name", Kind::Str),
            required(p("target_id", Kind::Str)),
            p("target_port", Kind::Int),
            required(choices(p("state", Kind::Str), &["present", "absent"])),
            choices(
                p("target_status", Kind::Str),
                &[
                    "initial",
                    "healthy",
                    "unhealthy",
                    "unused",
                    "draining",
                    "unavailable",
                ],
            ),
            p("target_status_timeout", Kind::Duration),
            p("deregister_unused", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let group = arg_str(args, "target_group_arn")
        .or(arg_str(args, "target_group_name"))
        .ok_or_else(|| {
            TaskResult::failed("one of target_group_arn, target_group_name is required")
        })?;
    let id =
        arg_str(args, "target_id").ok_or_else(|| TaskResult::failed("target_id is required"))?;
    let present = match arg_str(args, "state") {
        Some("present") => true,
        Some("absent") => false,
        _ => return Err(TaskResult::failed("state must be present or absent")),
    };
    let api = |e: crate::traffic::TrafficError| TaskResult::failed(e.to_string());
    let manager = Elbv2::connect(group, Arc::new(Pace::new(DESCRIBE_GAP, DESCRIBE_BURST)))
        .await
        .map_err(api)?;
    let health = manager.describe().await.map_err(api)?;
    let wanted_port = args
        .get("target_port")
        .and_then(Json::as_u64)
        .and_then(|p| u16::try_from(p).ok());
    let current = health
        .iter()
        .find(|(t, _)| t.id == id && (wanted_port.is_none() || t.port == wanted_port));
    let target = Target {
        id: id.to_string(),
        port: wanted_port.or_else(|| current.and_then(|(t, _)| t.port)),
    };
    // Draining or drained targets are leaving rotation: not registered.
    let registered =
        current.is_some_and(|(_, h)| !h.state.is_draining() && h.state != State::Unused);
    let changed = registered != present;
    if changed && !ctx.check_mode {
        if present {
            manager.register(&target).await.map_err(api)?;
        } else {
            manager.deregister(&target).await.map_err(api)?;
        }
    }
    if let Some(status) = arg_str(args, "target_status")
        && !ctx.check_mode
    {
        let wanted = State::parse(status)
            .ok_or_else(|| TaskResult::failed(format!("unknown target_status '{status}'")))?;
        let timeout = arg_secs(args, "target_status_timeout", 60.0).map_err(TaskResult::failed)?;
        let judge = |h: Option<&crate::traffic::Health>, _: Duration| match h {
            Some(h) if h.state == wanted => Verdict::Done,
            None if wanted == State::Unused => Verdict::Done,
            Some(h) => Verdict::Wait(h.describe()),
            None => Verdict::Wait("not registered".into()),
        };
        let outcome = wait::wait_all(
            &manager,
            std::slice::from_ref(&target),
            timeout,
            &PollSettings::default(),
            judge,
            |_| {},
        )
        .await;
        if let Some(Err(why)) = outcome.get(&target) {
            return Err(
                TaskResult::failed(format!("{target} did not reach {status}: {why}"))
                    .with("changed", changed),
            );
        }
    }
    let result = if changed {
        TaskResult::changed()
    } else {
        TaskResult::ok()
    };
    Ok(result
        .with("target_group_arn", manager.arn().to_string())
        .with("target_id", id)
        .with(
            "target_port",
            target.port.map(Json::from).unwrap_or(Json::Null),
        ))
}
