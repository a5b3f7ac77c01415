//! `ping`: proves the host can be reached and run a command; returns
//! `ping: <data>` (`pong` by default). `data: crash` fails as Ansible's
//! module does when it raises its test exception.

use super::registry::Module;
use super::spec::{Kind, ModuleSpec, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};

/// `ping`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new("ping", &[p("data", Kind::Str)]),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    // The round trip is the point: the host must run a command.
    if let Err(e) = ctx.conn.exec("true", None).await {
        return TaskResult::from_connection(e);
    }
    match arg_str(args, "data").unwrap_or("pong") {
        // Ansible's module raises `Exception("boom")` on purpose.
        "crash" => TaskResult::failed("MODULE FAILURE: boom")
            .with("exception", "Exception: boom")
            .with("rc", 1),
        data => TaskResult::ok().with("ping", data),
    }
}
