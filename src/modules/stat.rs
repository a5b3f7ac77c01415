//! `stat`: describe a path on the host in one round trip, with Ansible's
//! `stat` dictionary (`exists`, `isdir`, `mode`, `pw_name`, `checksum`...).

use super::registry::Module;
use super::remote_file::{self, FileKind, Probe, ProbeRequest};
use super::spec::{Kind, ModuleSpec, aliases, choices, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use serde_json::{Map, Value as Json, json};

/// `stat`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "stat",
        &[
            required(aliases(p("path", Kind::Str), &["dest", "name"])),
            p("get_checksum", Kind::Bool),
            choices(
                aliases(
                    p("checksum_algorithm", Kind::Str),
                    &["checksum", "checksum_algo"],
                ),
                &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
            ),
            p("follow", Kind::Bool),
            p("get_mime", Kind::Bool),
            p("get_attributes", Kind::Bool),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let Some(path) = arg_str(args, "path") else {
        return TaskResult::failed("path is required");
    };
    let algorithm = arg_str(args, "checksum_algorithm").unwrap_or("sha1");
    let get_checksum = arg_bool(args, "get_checksum", true);
    let req = ProbeRequest {
        path,
        follow: arg_bool(args, "follow", false),
        // The probe's own checksum is sha1; another is a second command.
        checksum: get_checksum && algorithm == "sha1",
        ..Default::default()
    };
    let probe = match remote_file::probe(ctx, &req).await {
        Ok(probe) => probe,
        Err(r) => return r,
    };
    let mut stat = describe(path, &probe);
    if get_checksum && algorithm != "sha1" && probe.kind == FileKind::File && probe.readable {
        match digest(ctx, path, algorithm).await {
            Ok(sum) => stat["checksum"] = sum.into(),
            Err(r) => return r,
        }
    }
    TaskResult::ok().with("stat", stat)
}

/// The file's digest by `algorithm` (md5, sha224...), with coreutils'
/// `<algorithm>sum` or else OpenSSL, as lowercase hex.
async fn digest(
    ctx: &ModuleContext<'_>,
    path: &str,
    algorithm: &str,
) -> Result<String, TaskResult> {
    let cmd = format!(
        "p={}; if command -v {algorithm}sum >/dev/null 2>&1; then {algorithm}sum < \"$p\"; \
         else openssl dgst -{algorithm} < \"$p\"; fi",
        crate::core::shell_quote(path)
    );
    let what = format!("computing the {algorithm} checksum");
    let out = remote_file::exec_ok(ctx, &cmd, None, &what).await?;
    // `HEX  -` from coreutils, `...= HEX` from OpenSSL.
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == '=')
        .find(|w| w.len() >= 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| TaskResult::failed(format!("{what} failed: no digest in its output")))
}

/// Ansible's `stat` dictionary for a probed path.
fn describe(path: &str, p: &Probe) -> Json {
    if !p.exists() {
        return json!({"exists": false});
    }
    let mut s = Map::new();
    let mut put = |k: &str, v: Json| {
        s.insert(k.to_string(), v);
    };
    put("exists", true.into());
    put("path", path.into());
    put("mode", super::mode::format_mode(p.mode).into());
    put("isdir", (p.kind == FileKind::Directory).into());
    put("isreg", (p.kind == FileKind::File).into());
    put("islnk", (p.kind == FileKind::Link).into());
    put("ischr", (p.kind == FileKind::Char).into());
    put("isblk", (p.kind == FileKind::Block).into());
    put("isfifo", (p.kind == FileKind::Fifo).into());
    put("issock", (p.kind == FileKind::Socket).into());
    put("uid", p.uid.into());
    put("gid", p.gid.into());
    put("pw_name", p.owner.clone().into());
    put("gr_name", p.group.clone().into());
    put("size", p.size.into());
    put("mtime", p.mtime.into());
    put("atime", p.atime.into());
    put("ctime", p.ctime.into());
    put("inode", p.inode.into());
    put("dev", p.dev.into());
    put("nlink", p.nlink.into());
    for (name, bit) in PERMISSION_BITS {
        put(name, (p.mode & bit != 0).into());
    }
    put("readable", p.readable.into());
    put("writeable", p.writeable.into());
    put("executable", p.executable.into());
    if let Some(sum) = &p.checksum {
        put("checksum", sum.clone().into());
    }
    // A followed link is described as its target: no link fields.
    if let Some(target) = p.lnk_target.as_ref().filter(|_| p.kind == FileKind::Link) {
        put("lnk_target", target.clone().into());
        put("lnk_source", link_source(path, target).into());
    }
    Json::Object(s)
}

const PERMISSION_BITS: [(&str, u32); 12] = [
    ("rusr", 0o400),
    ("wusr", 0o200),
    ("xusr", 0o100),
    ("rgrp", 0o040),
    ("wgrp", 0o020),
    ("xgrp", 0o010),
    ("roth", 0o004),
    ("woth", 0o002),
    ("xoth", 0o001),
    ("isuid", 0o4000),
    ("isgid", 0o2000),
    ("issticky", 0o1000),
];

/// The link's target as a path from `/` (or from the link's directory for a
/// relative link path), without touching the host again.
fn link_source(path: &str, target: &str) -> String {
    let target = std::path::Path::new(target);
    if target.is_absolute() {
        return target.display().to_string();
    }
    match std::path::Path::new(path).parent() {
        Some(dir) => dir.join(target).display().to_string(),
        None => target.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn checksums_by_algorithm() {
        let h = Harness::new(json!({}));
        let path = h.path("f");
        std::fs::write(&path, "abc\n").unwrap();
        let sums = [
            ("sha1", "03cfd743661f07975fa2f1220c5194cbaff48451"),
            ("md5", "0bee89b07a248e27c83fc3d5951213c1"),
            (
                "sha256",
                "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb",
            ),
        ];
        for (algorithm, sum) in sums {
            let a = args(json!({"path": path, "checksum_algorithm": algorithm}));
            let r = run(&a, &h.ctx(false, false)).await;
            assert_eq!(r.data["stat"]["checksum"], json!(sum), "{algorithm}: {r:?}");
        }
        let link = h.path("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let r = run(
            &args(json!({"path": link, "follow": true})),
            &h.ctx(false, false),
        )
        .await;
        assert_eq!(r.data["stat"]["islnk"], json!(false), "{r:?}");
        assert!(r.data["stat"].get("lnk_target").is_none(), "{r:?}");
        let a = args(json!({"path": h.path(""), "checksum_algorithm": "md5"}));
        let r = run(&a, &h.ctx(false, false)).await;
        assert!(
            r.data["stat"].get("checksum").is_none(),
            "a directory: {r:?}"
        );
    }

    #[tokio::test]
    async fn regular_file_fields() {
        let h = Harness::new(json!({}));
        let path = h.path("f.txt");
        std::fs::write(&path, "abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let r = run(&args(json!({"path": path})), &h.ctx(false, false)).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        let s = &r.data["stat"];
        assert_eq!(s["exists"], json!(true));
        assert_eq!(s["isreg"], json!(true));
        assert_eq!(s["isdir"], json!(false));
        assert_eq!(s["mode"], json!("0640"));
        assert_eq!(s["size"], json!(3));
        assert_eq!(s["pw_name"], json!("root"));
        assert_eq!(s["gr_name"], json!("root"));
        assert_eq!(s["uid"], json!(0));
        assert_eq!(s["wgrp"], json!(false));
        assert_eq!(s["checksum"], json!(remote_file::sha1_hex(b"abc")));
        assert!(s["mtime"].as_i64().unwrap() > 1_600_000_000);
        let r = run(
            &args(json!({"path": path, "get_checksum": false})),
            &h.ctx(false, false),
        )
        .await;
        assert!(r.data["stat"].get("checksum").is_none());
    }

    #[tokio::test]
    async fn links_dirs_and_absence() {
        let h = Harness::new(json!({}));
        let link = h.path(NASTY);
        std::os::unix::fs::symlink(h.base(), &link).unwrap();
        let r = run(&args(json!({"path": link})), &h.ctx(false, false)).await;
        let s = &r.data["stat"];
        assert_eq!(s["islnk"], json!(true), "{s}");
        assert_eq!(s["isdir"], json!(false));
        assert_eq!(s["lnk_target"], json!(h.base().display().to_string()));
        let r = run(
            &args(json!({"path": link, "follow": true})),
            &h.ctx(false, false),
        )
        .await;
        assert_eq!(r.data["stat"]["isdir"], json!(true));
        assert_eq!(r.data["stat"]["islnk"], json!(false));
        let r = run(&args(json!({"path": h.path("nope")})), &h.ctx(false, false)).await;
        assert_eq!(r.data["stat"], json!({"exists": false}));
        assert_not_pwned(h.base());
    }
}
