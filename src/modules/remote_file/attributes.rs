//! Mode/owner/group: what a module's arguments ask for, whether a path
//! differs, and setting them in place.

use super::{Probe, exec_ok, parse_probe, stat_snippet};
use crate::core::shell_quote;
use crate::modules::{ModuleContext, TaskResult, Vars, arg_str, mode};

/// Sets mode/owner/group of an existing path in place and describes it
/// afterwards, in one round trip. `no_follow` changes a symlink itself
/// (owner/group only: links have no mode of their own).
pub async fn set_attributes(
    ctx: &ModuleContext<'_>,
    path: &str,
    attrs: &Attributes<'_>,
    no_follow: bool,
) -> Result<Probe, TaskResult> {
    let script = format!(
        "p={}\n{}{}",
        shell_quote(path),
        attribute_commands(attrs, no_follow),
        stat_snippet(false)
    );
    let out = exec_ok(ctx, &script, None, "setting attributes").await?;
    Ok(parse_probe(path, &out.stdout))
}

/// Shell lines setting `attrs` on `$p`; each failure stops the script.
/// The mode comes after owner and group, which clear setuid/setgid bits.
pub fn attribute_commands(attrs: &Attributes<'_>, no_follow: bool) -> String {
    let h = if no_follow { "-h " } else { "" };
    let mut s = String::new();
    if let Some(o) = attrs.owner {
        s.push_str(&format!(
            "chown {h}-- {} \"$p\" || exit 1\n",
            shell_quote(o)
        ));
    }
    if let Some(g) = attrs.group {
        s.push_str(&format!(
            "chgrp {h}-- {} \"$p\" || exit 1\n",
            shell_quote(g)
        ));
    }
    // Last: a change of owner or group clears setuid/setgid bits.
    if let (Some(mode), false) = (attrs.mode, no_follow) {
        s.push_str(&format!("chmod {mode:o} -- \"$p\" || exit 1\n"));
    }
    s
}

/// Mode/owner/group a module wants for a path (`None`: leave as is).
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributes<'a> {
    pub mode: Option<u32>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl Attributes<'_> {
    /// Whether the path described by `probe` lacks any of these.
    pub fn differ(&self, probe: &Probe) -> bool {
        self.mode.is_some_and(|m| m != probe.mode)
            || owner_differs(self.owner, &probe.owner, probe.uid)
            || owner_differs(self.group, &probe.group, probe.gid)
    }
}

/// The attributes the `mode`, `owner` and `group` arguments ask for, given
/// what the path is now (a symbolic mode builds on the current mode, or on
/// the usual default of a new file or directory).
pub fn wanted_attributes<'a>(
    args: &'a Vars,
    probe: &Probe,
    is_dir: bool,
) -> Result<Attributes<'a>, TaskResult> {
    let current = if probe.exists() {
        probe.mode
    } else if is_dir {
        0o755
    } else {
        0o644
    };
    let mode = arg_str(args, "mode")
        .map(|spec| mode::apply_mode(spec, current, is_dir))
        .transpose()
        .map_err(TaskResult::failed)?;
    Ok(Attributes {
        mode,
        owner: arg_str(args, "owner"),
        group: arg_str(args, "group"),
    })
}

/// Whether `want` (a name or a numeric id) differs from what the path has.
fn owner_differs(want: Option<&str>, name: &str, id: u32) -> bool {
    match want {
        None => false,
        Some(w) => w != name && w.parse::<u32>().ok() != Some(id),
    }
}
