//! `raw`: the text goes to the host's shell as it is — no quoting, no
//! `chdir`, no environment — for hosts that have nothing but a shell.

use super::command::run_line;
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, aliases, p};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use crate::core::shell_quote;
use serde_json::Value as Json;

/// `raw`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "raw",
        &[
            aliases(p("cmd", Kind::Str), &["_raw_params"]),
            p("executable", Kind::Str),
        ],
    )
    .free_form("cmd"),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let Some(text) = arg_str(args, "cmd") else {
        return TaskResult::failed("raw needs a command line");
    };
    if ctx.check_mode {
        return TaskResult::skipped("raw would run; not run in check mode").with("cmd", text);
    }
    let line = build(text, arg_str(args, "executable"));
    let mut result = run_line(ctx, &line, None, Json::String(text.to_string()), false).await;
    // Ansible's raw has no `cmd`/timing fields worth keeping but keeps rc.
    result.data.remove("cmd");
    result
}

/// The line as run: verbatim, or handed to `executable -c`.
pub(crate) fn build(text: &str, executable: Option<&str>) -> String {
    match executable {
        Some(exe) => format!("exec {} -c {}", shell_quote(exe), shell_quote(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_is_verbatim() {
        assert_eq!(
            build("echo $HOME; ls | wc -l", None),
            "echo $HOME; ls | wc -l"
        );
        assert_eq!(
            build("echo $0", Some("/bin/bash")),
            "exec /bin/bash -c 'echo $0'"
        );
    }
}
