//! `group`: local groups with `groupadd`/`groupmod`/`groupdel`, read back
//! through `getent`, as Ansible's `group` does on Linux.

use super::accounts::{check_name, command_line, getent_line, parse_group, run_tool, tag, tagged};
use super::registry::Module;
use super::spec::{Kind, ModuleSpec, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use serde_json::Value as Json;

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "group",
        &[
            required(p("name", Kind::Str)),
            choices(p("state", Kind::Str), &["absent", "present"]),
            p("gid", Kind::Int),
            p("system", Kind::Bool),
            p("non_unique", Kind::Bool),
            p("force", Kind::Bool),
            p("local", Kind::Bool),
            p("gid_min", Kind::Int),
            p("gid_max", Kind::Int),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match run_checked(args, ctx).await {
        Ok(result) | Err(result) => result,
    }
}

fn int(args: &Vars, key: &str) -> Option<i64> {
    args.get(key).and_then(Json::as_i64)
}

/// The `groupadd` line for a new group.
pub fn add_command(args: &Vars, name: &str) -> Vec<String> {
    let mut cmd = vec!["groupadd".to_string()];
    if let Some(gid) = int(args, "gid") {
        cmd.extend(["-g".into(), gid.to_string()]);
        if arg_bool(args, "non_unique", false) {
            cmd.push("-o".into());
        }
    }
    if arg_bool(args, "system", false) {
        cmd.push("-r".into());
    }
    for (key, setting) in [("gid_min", "GID_MIN"), ("gid_max", "GID_MAX")] {
        if let Some(v) = int(args, key) {
            cmd.extend(["-K".into(), format!("{setting}={v}")]);
        }
    }
    cmd.push(name.into());
    cmd
}

/// The `groupmod` line for an existing group, if its gid must change.
pub fn mod_command(args: &Vars, name: &str, current_gid: u32) -> Option<Vec<String>> {
    let gid = int(args, "gid").filter(|g| *g != i64::from(current_gid))?;
    let mut cmd = vec!["groupmod".to_string(), "-g".into(), gid.to_string()];
    if arg_bool(args, "non_unique", false) {
        cmd.push("-o".into());
    }
    cmd.push(name.into());
    Some(cmd)
}

fn check_args(args: &Vars) -> Result<(), String> {
    if arg_bool(args, "local", false) {
        return Err("local: true (luseradd/lgroupadd) is not supported by rollout's group".into());
    }
    if arg_bool(args, "non_unique", false) && int(args, "gid").is_none() {
        return Err("non_unique is True but all of the following are missing: gid".into());
    }
    Ok(())
}

async fn lookup(ctx: &ModuleContext<'_>, name: &str) -> Result<Option<u32>, TaskResult> {
    let (stdout, _) = run_tool(ctx, &getent_line("group", name, "group"), None).await?;
    Ok(tag(&tagged(stdout.as_bytes()), "group")
        .and_then(parse_group)
        .map(|g| g.gid))
}

async fn run_checked(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    let name = arg_str(args, "name").unwrap_or_default();
    check_name("group", name).map_err(TaskResult::failed)?;
    check_args(args).map_err(TaskResult::failed)?;
    let state = arg_str(args, "state").unwrap_or("present");
    let fail = |r: TaskResult| r.with("name", name);
    let current = lookup(ctx, name).await?;
    let command = match (state, current) {
        ("absent", Some(_)) => Some(vec!["groupdel".to_string(), name.to_string()]),
        ("absent", None) => None,
        (_, None) => Some(add_command(args, name)),
        (_, Some(gid)) => mod_command(args, name, gid),
    };
    // As Ansible: adding or deleting in check mode says only `changed`.
    if ctx.check_mode && command.is_some() && (state == "absent" || current.is_none()) {
        return Ok(TaskResult::changed());
    }
    let mut result = TaskResult::ok().with("name", name).with("state", state);
    if let Some(command) = command {
        result.changed = true;
        if !ctx.check_mode {
            let (stdout, stderr) = run_tool(ctx, &command_line(&command), None)
                .await
                .map_err(fail)?;
            for (key, text) in [("stdout", stdout), ("stderr", stderr)] {
                if !text.is_empty() {
                    result = result.with(key, text);
                }
            }
        }
    }
    let after = if ctx.check_mode {
        current
    } else {
        lookup(ctx, name).await?
    };
    if let Some(gid) = after {
        result = result
            .with("system", arg_bool(args, "system", false))
            .with("gid", gid);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::remote_file::test_support::args;
    use serde_json::json;

    #[test]
    fn add_and_mod_lines_follow_the_arguments() {
        let a = args(json!({"name": "web", "gid": 2001, "non_unique": true, "system": true}));
        assert_eq!(
            add_command(&a, "web"),
            ["groupadd", "-g", "2001", "-o", "-r", "web"]
        );
        assert_eq!(
            mod_command(&a, "web", 2000).unwrap(),
            ["groupmod", "-g", "2001", "-o", "web"]
        );
        assert!(mod_command(&a, "web", 2001).is_none());
        assert!(mod_command(&args(json!({"name": "web"})), "web", 5).is_none());
    }

    #[test]
    fn non_unique_needs_a_gid_and_local_is_refused() {
        let err = check_args(&args(json!({"non_unique": true}))).unwrap_err();
        assert!(err.contains("missing: gid"), "{err}");
        let err = check_args(&args(json!({"local": true}))).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }
}
