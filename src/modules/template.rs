//! `template`: render a controller Jinja file with the host's variables and
//! put the result at `dest`, with `copy`'s semantics (checksum idempotence,
//! mode/owner/group, backup, force, validate, check and diff modes).
//!
//! The engine renders only the arguments; the file's text is rendered here,
//! so a template error names the file and nothing reaches the host.

use super::copy::{self, Payload};
use super::registry::Module;
use super::spec::{ATTRS, Kind, ModuleSpec, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_str};
use minijinja::Value;
use std::path::Path;

/// `template`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "template",
        &[
            required(p("src", Kind::Str)),
            required(p("dest", Kind::Str)),
            ATTRS[0],
            ATTRS[1],
            ATTRS[2],
            p("backup", Kind::Bool),
            p("force", Kind::Bool),
            p("validate", Kind::Str),
            p("follow", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match render(args, ctx) {
        Ok(payload) => copy::deliver(args, ctx, &payload).await,
        Err(r) => r,
    }
}

fn render(args: &Vars, ctx: &ModuleContext<'_>) -> Result<Payload, TaskResult> {
    let src = arg_str(args, "src").ok_or_else(|| TaskResult::failed("src is required"))?;
    let path = copy::find_for_task(ctx, "templates", src)?;
    // A vaulted template is decrypted on the controller, as Ansible does.
    let source =
        crate::vault::read_to_string(&path).map_err(|e| TaskResult::failed(e.to_string()))?;
    let scope = with_template_vars(ctx, &path, src);
    let text = ctx
        .templar
        .render_file(&source, &scope)
        .map_err(|e| TaskResult::failed(format!("{}: {}", path.display(), e.message)))?;
    Ok(Payload {
        staged: None,
        bytes: text.into_bytes(),
        origin: Some(path.clone()),
        file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        local_mode: local_mode(&path),
    })
}

/// Ansible's `template_*` variables and `ansible_managed`, under the host's
/// own variables (which win on a clash).
fn with_template_vars(ctx: &ModuleContext<'_>, path: &Path, src: &str) -> Value {
    let extras = minijinja::context! {
        template_path => src,
        template_fullpath => path.display().to_string(),
        template_destpath => ctx.host,
        template_host => ctx.host,
        template_run_date => chrono::Local::now().to_rfc3339(),
        ansible_managed => "Ansible managed",
    };
    minijinja::value::merge_maps([ctx.scope.clone(), extras])
}

fn local_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    fn write_template(h: &Harness, name: &str, text: &str) {
        let dir = h.base().join("templates");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[tokio::test]
    async fn renders_variables_and_is_idempotent() {
        let h = Harness::new(json!({"port": 8080, "names": ["a", "b"]}));
        write_template(
            &h,
            "app.conf.j2",
            "port={{ port }}\n{% for n in names %}\nname={{ n }}\n{% endfor %}\n",
        );
        let dest = h.path("app.conf");
        let a = args(json!({"src": "app.conf.j2", "dest": dest, "mode": "0600"}));
        let r = run(&a, &h.ctx(false, true)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        let text = std::fs::read_to_string(&dest).unwrap();
        assert_eq!(text, "port=8080\nname=a\nname=b\n");
        assert_eq!(r.data["diff"][0]["after"], json!(text));
        assert_eq!(r.data["diff"][0]["before"], json!(""));
        assert_eq!(r.data["mode"], json!("0600"));
        let again = run(&a, &h.ctx(false, false)).await;
        assert!(!again.changed && !again.failed, "{again:?}");
    }

    #[tokio::test]
    async fn template_error_names_the_file_and_writes_nothing() {
        let h = Harness::new(json!({}));
        write_template(&h, "bad.j2", "x={{ missing_var }}\n");
        let dest = h.path("out");
        let a = args(json!({"src": "bad.j2", "dest": dest}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(r.failed);
        let msg = r.msg.unwrap();
        assert!(
            msg.contains("bad.j2") && msg.contains("missing_var"),
            "{msg}"
        );
        assert!(!Path::new(&dest).exists());
    }

    #[tokio::test]
    async fn check_mode_writes_nothing_and_template_vars_exist() {
        let h = Harness::new(json!({}));
        std::fs::write(h.base().join("beside.j2"), "{{ template_path }}\n").unwrap();
        let dest = h.path("out");
        let a = args(json!({"src": "beside.j2", "dest": dest}));
        let r = run(&a, &h.ctx(true, true)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["diff"][0]["after"], json!("beside.j2\n"));
        assert!(!Path::new(&dest).exists());
    }
}
