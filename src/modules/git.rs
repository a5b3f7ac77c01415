//! `git`: a checkout of a repository at a version (branch, tag or SHA),
//! cloned or updated with the host's own `git`, as ansible-core's module
//! does it: the same git command lines in the same order, so the same
//! repository states give the same results (`before`/`after` SHAs,
//! `remote_url_changed`, "Local modifications exist..." without `force`).
//! Check mode asks the remote with `git ls-remote` and changes nothing.
//!
//! SSH remotes run through `GIT_SSH_COMMAND` with `BatchMode=yes`: an
//! unknown host key fails unless `accept_hostkey`/`accept_newhostkey`.
//! Submodules are not handled: a repository with `.gitmodules` fails
//! unless `recursive: false`, never half-updated.

use super::registry::Module;
use super::remote_file::exec;
use super::spec::{Kind, ModuleSpec, aliases, p, required};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str};
use crate::connection::ExecOutput;
use crate::core::shell_quote;
use serde_json::{Value as Json, json};

pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "git",
        &[
            required(aliases(p("repo", Kind::Str), &["name"])),
            p("dest", Kind::Str),
            p("version", Kind::Str),
            p("remote", Kind::Str),
            p("refspec", Kind::Str),
            p("reference", Kind::Str),
            p("force", Kind::Bool),
            p("depth", Kind::Int),
            p("clone", Kind::Bool),
            p("update", Kind::Bool),
            p("accept_hostkey", Kind::Bool),
            p("accept_newhostkey", Kind::Bool),
            p("key_file", Kind::Str),
            p("ssh_opts", Kind::Str),
            p("executable", Kind::Str),
            p("bare", Kind::Bool),
            p("recursive", Kind::Bool),
            p("single_branch", Kind::Bool),
            p("umask", Kind::Str),
        ],
    ),
    |args, ctx| Box::pin(run(args, ctx)),
);

pub async fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    match try_run(args, ctx).await {
        Ok(r) | Err(r) => r,
    }
}

/// `GIT_SSH_COMMAND` as Ansible's `set_git_ssh_env` builds it.
pub fn ssh_command(args: &Vars) -> String {
    let mut opts = arg_str(args, "ssh_opts").map(str::to_string);
    for (key, option) in [
        ("accept_hostkey", "-o StrictHostKeyChecking=no"),
        ("accept_newhostkey", "-o StrictHostKeyChecking=accept-new"),
    ] {
        if !arg_bool(args, key, false) {
            continue;
        }
        opts = Some(match opts {
            Some(o)
                if o.contains("-o StrictHostKeyChecking=no")
                    || o.contains("-o StrictHostKeyChecking=accept-new") =>
            {
                o
            }
            Some(o) => format!("{o} {option}"),
            None => option.to_string(),
        });
    }
    let mut opts = match opts {
        Some(o) => format!(" {o}"),
        None => String::new(),
    };
    if !opts.contains("BatchMode=yes") {
        opts.push_str(" -o BatchMode=yes");
    }
    if let Some(key) = arg_str(args, "key_file") {
        // GIT_SSH_COMMAND is read by a shell: the path is one word.
        opts.push_str(&format!("  -i {}", shell_quote(key)));
        if !opts.contains("IdentitiesOnly=yes") {
            opts.push_str(" -o IdentitiesOnly=yes");
        }
    }
    format!("ssh{opts}")
}

/// The task's settings, and one way to run git with them.
struct Git<'a> {
    ctx: &'a ModuleContext<'a>,
    /// `export ...; umask ...;` before every git line.
    prelude: String,
    git: String,
    repo: String,
    dest: Option<String>,
    version: &'a str,
    remote: &'a str,
    depth: Option<i64>,
    bare: bool,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Git<'_> {
    /// Runs `git WORDS` (each quoted) in `cwd`.
    async fn raw(&self, cwd: Option<&str>, words: &[&str]) -> Result<ExecOutput, TaskResult> {
        let cd = cwd
            .map(|d| format!("cd {} || exit 1; ", shell_quote(d)))
            .unwrap_or_default();
        let words: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        let line = format!("{}{cd}{} {}", self.prelude, self.git, words.join(" "));
        exec(self.ctx, &line, None).await
    }

    /// In dest.
    async fn run(&self, words: &[&str]) -> Result<ExecOutput, TaskResult> {
        self.raw(self.dest.as_deref(), words).await
    }

    /// In dest; a non-zero exit fails with `msg` and the command's output.
    async fn check(&self, words: &[&str], msg: &str) -> Result<ExecOutput, TaskResult> {
        let out = self.run(words).await?;
        if out.rc != 0 {
            return Err(self.failure(msg, &out, words));
        }
        Ok(out)
    }

    /// A git command's failure as Ansible reports it: the message, the
    /// command, its exit code and output.
    fn failure(&self, msg: &str, out: &ExecOutput, words: &[&str]) -> TaskResult {
        TaskResult::failed(msg)
            .with("rc", out.rc)
            .with("stdout", text(&out.stdout))
            .with("stderr", text(&out.stderr))
            .with("cmd", format!("{} {}", self.git, words.join(" ")))
    }

    /// Ansible's `check_rc`: the message is the command's stderr.
    fn stderr_failure(&self, out: &ExecOutput, words: &[&str]) -> TaskResult {
        self.failure(text(&out.stderr).trim_end(), out, words)
    }

    async fn rev_parse(&self) -> Result<String, TaskResult> {
        let out = self.run(&["rev-parse", "HEAD"]).await?;
        Ok(text(&out.stdout).trim_end_matches('\n').to_string())
    }

    /// `git ls-remote REMOTE FLAG REF`'s output (failing as Ansible's
    /// `check_rc`).
    async fn ls_remote(
        &self,
        remote: &str,
        flag: &str,
        reference: &str,
    ) -> Result<String, TaskResult> {
        let words = ["ls-remote", remote, flag, reference];
        // In dest once it exists (a remote's name needs the repo), as
        // Ansible's cwd; before the clone, wherever the shell is.
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        let cd = self
            .dest
            .as_deref()
            .map(|d| format!("cd {} 2>/dev/null; ", shell_quote(d)))
            .unwrap_or_default();
        let line = format!("{}{cd}{} {}", self.prelude, self.git, quoted.join(" "));
        let out = exec(self.ctx, &line, None).await?;
        if out.rc != 0 {
            return Err(self.stderr_failure(&out, &words));
        }
        Ok(text(&out.stdout))
    }

    async fn is_remote_branch(&self, remote: &str, version: &str) -> Result<bool, TaskResult> {
        let out = self
            .ls_remote(remote, "-h", &format!("refs/heads/{version}"))
            .await?;
        Ok(out.contains(version))
    }

    async fn is_remote_tag(&self, remote: &str, version: &str) -> Result<bool, TaskResult> {
        let out = self
            .ls_remote(remote, "-t", &format!("refs/tags/{version}"))
            .await?;
        Ok(out.contains(version))
    }

    /// The branch HEAD is on, or the remote's default one when detached
    /// (Ansible's `get_head_branch`).
    async fn head_branch(&self) -> Result<String, TaskResult> {
        let branches = self.branches().await?;
        let detached = branches.iter().any(|b| {
            b.starts_with("* ")
                && (b.contains("no branch")
                    || b.contains("detached from")
                    || b.contains("detached at"))
        });
        let file = if detached {
            format!("refs/remotes/{}/HEAD", self.remote)
        } else {
            "HEAD".into()
        };
        let dir = if self.bare { "." } else { ".git" };
        let line = format!(
            "{}cd {} && head -n 1 {}",
            self.prelude,
            shell_quote(self.dest.as_deref().unwrap_or(".")),
            shell_quote(&format!("{dir}/{file}"))
        );
        let out = exec(self.ctx, &line, None).await?;
        let raw = text(&out.stdout).replacen(&format!("refs/remotes/{}", self.remote), "", 1);
        let last = raw.split(' ').next_back().unwrap_or_default();
        Ok(last
            .splitn(3, '/')
            .last()
            .unwrap_or_default()
            .trim_end_matches('\n')
            .to_string())
    }

    async fn branches(&self) -> Result<Vec<String>, TaskResult> {
        let out = self
            .check(
                &["branch", "--no-color", "-a"],
                "Could not determine branch data",
            )
            .await?;
        Ok(text(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    async fn is_local_branch(&self, branch: &str) -> Result<bool, TaskResult> {
        let branches = self.branches().await?;
        Ok(branches
            .iter()
            .any(|b| b == branch || *b == format!("* {branch}")))
    }

    /// Ansible's `get_remote_head`: the SHA `version` has on `remote`.
    async fn remote_head(&self, remote: &str, cloning: bool) -> Result<String, TaskResult> {
        let version = self.version;
        let (out, tag) = if version == "HEAD" {
            let reference = if cloning {
                "HEAD".to_string()
            } else {
                format!("refs/heads/{}", self.head_branch().await?)
            };
            (self.ls_remote(remote, "-h", &reference).await?, false)
        } else if self.is_remote_branch(remote, version).await? {
            let out = self
                .ls_remote(remote, "-h", &format!("refs/heads/{version}"))
                .await?;
            (out, false)
        } else if self.is_remote_tag(remote, version).await? {
            let out = self
                .ls_remote(remote, "-t", &format!("refs/tags/{version}*"))
                .await?;
            (out, true)
        } else {
            // A SHA: it cannot be checked on the remote.
            return Ok(version.to_string());
        };
        if out.is_empty() {
            return Err(TaskResult::failed(format!(
                "Could not determine remote revision for {version}"
            )));
        }
        let mut line = out.as_str();
        if tag {
            // An annotated tag's dereferenced line wins.
            for l in out.split('\n') {
                if l.ends_with(&format!("{version}^{{}}")) {
                    line = l;
                    break;
                } else if l.ends_with(version) {
                    line = l;
                }
            }
        }
        Ok(line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string())
    }

    async fn has_local_mods(&self) -> Result<bool, TaskResult> {
        if self.bare {
            return Ok(false);
        }
        let out = self.run(&["status", "--porcelain"]).await?;
        Ok(text(&out.stdout).lines().any(|l| !l.starts_with("??")))
    }

    async fn remote_url(&self) -> Result<Option<String>, TaskResult> {
        let out = self.run(&["ls-remote", "--get-url", self.remote]).await?;
        Ok((out.rc == 0).then(|| text(&out.stdout).trim_end_matches('\n').to_string()))
    }

    /// Points the remote at `repo`; whether its URL changed.
    async fn set_remote_url(&self) -> Result<bool, TaskResult> {
        let url = self.remote_url().await?;
        if url.as_deref() == Some(self.repo.as_str()) {
            return Ok(false);
        }
        let out = self
            .run(&["remote", "set-url", self.remote, &self.repo])
            .await?;
        if out.rc != 0 {
            return Err(TaskResult::failed(format!(
                "Failed to set a new url {} for {}: {} {}",
                self.repo,
                self.remote,
                text(&out.stdout),
                text(&out.stderr)
            )));
        }
        Ok(url.is_some())
    }

    async fn clone(&self, args: &Vars) -> Result<(), TaskResult> {
        let dest = self.dest.as_deref().unwrap_or_default();
        let parent = match dest.rsplit_once('/') {
            Some(("", _)) => "/",
            Some((parent, _)) => parent,
            None => ".",
        };
        let mkdir = format!("mkdir -p -- {}", shell_quote(parent));
        let _ = exec(self.ctx, &mkdir, None).await?;
        let mut words: Vec<String> = vec!["clone".into()];
        if self.bare {
            words.push("--bare".into());
        } else {
            words.extend(["--origin".into(), self.remote.to_string()]);
        }
        let version = self.version;
        let branch_or_tag = self.is_remote_branch(&self.repo, version).await?
            || self.is_remote_tag(&self.repo, version).await?;
        let refspec = arg_str(args, "refspec");
        if let Some(depth) = self.depth {
            if version == "HEAD" || refspec.is_some() {
                words.extend(["--depth".into(), depth.to_string()]);
            } else if branch_or_tag {
                words.extend(["--depth".into(), depth.to_string()]);
                words.extend(["--branch".into(), version.to_string()]);
            }
        }
        if let Some(reference) = arg_str(args, "reference") {
            words.extend(["--reference".into(), reference.to_string()]);
        }
        if arg_bool(args, "single_branch", false) {
            words.push("--single-branch".into());
            if branch_or_tag {
                words.extend(["--branch".into(), version.to_string()]);
            }
        }
        words.extend([self.repo.clone(), dest.to_string()]);
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = self.raw(Some(parent), &refs).await?;
        if out.rc != 0 {
            return Err(self.stderr_failure(&out, &refs));
        }
        if self.bare && self.remote != "origin" {
            self.check(
                &["remote", "add", self.remote, &self.repo],
                "Failed to add the remote",
            )
            .await?;
        }
        if let Some(refspec) = refspec {
            let depth = self.depth.map(|d| d.to_string());
            let mut w = vec!["fetch"];
            if let Some(d) = &depth {
                w.extend(["--depth", d]);
            }
            w.extend([self.remote, refspec]);
            self.check(&w, "Failed to fetch the refspec").await?;
        }
        Ok(())
    }

    /// Ansible's `fetch`: the remote's objects and refs (all tags too).
    async fn fetch(&self, args: &Vars) -> Result<(), TaskResult> {
        self.set_remote_url().await?;
        let version = self.version;
        let refspec = arg_str(args, "refspec");
        let mut refspecs: Vec<String> = Vec::new();
        let mut words: Vec<String> = vec!["fetch".into()];
        if let Some(depth) = self.depth {
            let current = self.head_branch().await?;
            if let Some(r) = refspec {
                refspecs.push(r.into());
            } else if version == "HEAD" {
                refspecs.push(current);
            } else if self.is_remote_branch(&self.repo, version).await? {
                if current != version {
                    refspecs.push(format!("+refs/heads/{version}:refs/heads/{version}"));
                }
                refspecs.push(format!(
                    "+refs/heads/{version}:refs/remotes/{}/{version}",
                    self.remote
                ));
            } else if self.is_remote_tag(&self.repo, version).await? {
                refspecs.push(format!("+refs/tags/{version}:refs/tags/{version}"));
            }
            if !refspecs.is_empty() {
                words.extend(["--depth".into(), depth.to_string()]);
            }
        }
        if self.depth.is_none() || refspecs.is_empty() {
            if self.bare {
                refspecs = vec![
                    "+refs/heads/*:refs/heads/*".into(),
                    "+refs/tags/*:refs/tags/*".into(),
                ];
            } else {
                words.push("--tags".into());
            }
            if let Some(r) = refspec {
                refspecs.push(r.into());
            }
        }
        if arg_bool(args, "force", false) {
            words.push("--force".into());
        }
        words.push(self.remote.into());
        words.extend(refspecs);
        let refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = self.run(&refs).await?;
        if out.rc != 0 {
            return Err(TaskResult::failed(format!(
                "Failed to download remote objects and refs: {} {}",
                text(&out.stdout),
                text(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Ansible's `switch_version`: the work tree at `version`.
    async fn switch_version(&self) -> Result<(), TaskResult> {
        let (version, remote) = (self.version, self.remote);
        let last: Vec<String>;
        if version == "HEAD" {
            let branch = self.head_branch().await?;
            let msg = format!("Failed to checkout branch {branch}");
            self.check(&["checkout", "--force", &branch], &msg).await?;
            last = vec![
                "reset".into(),
                "--hard".into(),
                format!("{remote}/{branch}"),
                "--".into(),
            ];
            let refs: Vec<&str> = last.iter().map(String::as_str).collect();
            self.check(&refs, &msg).await?;
            return Ok(());
        }
        if self.is_remote_branch(remote, version).await? {
            if let (Some(depth), false) = (self.depth, self.is_local_branch(version).await?) {
                let d = format!("--depth={depth}");
                let refs = [
                    format!("+refs/heads/{version}:refs/heads/{version}"),
                    format!("+refs/heads/{version}:refs/remotes/{remote}/{version}"),
                ];
                let msg = format!("Failed to fetch branch from remote: {version}");
                self.check(&["fetch", &d, remote, &refs[0], &refs[1]], &msg)
                    .await?;
            }
            if !self.is_local_branch(version).await? {
                last = vec![
                    "checkout".into(),
                    "--track".into(),
                    "-b".into(),
                    version.into(),
                    format!("{remote}/{version}"),
                ];
            } else {
                let msg = format!("Failed to checkout branch {version}");
                self.check(&["checkout", "--force", version], &msg).await?;
                last = vec![
                    "reset".into(),
                    "--hard".into(),
                    format!("{remote}/{version}"),
                ];
            }
        } else {
            last = vec!["checkout".into(), "--force".into(), version.into()];
        }
        let refs: Vec<&str> = last.iter().map(String::as_str).collect();
        self.check(&refs, &format!("Failed to checkout {version}"))
            .await?;
        Ok(())
    }

    /// Ansible's `get_diff` once both SHAs are known locally.
    async fn diff(&self, before: Option<&str>, after: &str) -> Result<Option<Json>, TaskResult> {
        let Some(before) = before else {
            return Ok(Some(
                json!({"prepared": format!(">> Newly checked out {after}")}),
            ));
        };
        if before == after {
            return Ok(None);
        }
        let out = self.run(&["diff", before, after]).await?;
        let prepared = match (out.rc, out.stdout.is_empty(), out.stderr.is_empty()) {
            (0, false, _) => text(&out.stdout),
            (0, true, _) => format!(">> No visual differences between {before} and {after}"),
            (_, _, false) => format!(
                ">> Failed to get proper diff between {before} and {after}:\n>> {}",
                text(&out.stderr)
            ),
            _ => format!(">> Failed to get proper diff between {before} and {after}"),
        };
        Ok(Some(json!({ "prepared": prepared })))
    }

    /// Whether a repository is at dest already (its config, or a `.git`
    /// file pointing elsewhere), and whether it has submodules.
    async fn probe(&self) -> Result<(bool, bool), TaskResult> {
        let dest = shell_quote(self.dest.as_deref().unwrap_or_default());
        let config = if self.bare { "config" } else { ".git/config" };
        let line = format!(
            "d={dest}; if [ -f \"$d/{config}\" ] || [ -f \"$d/.git\" ]; then echo repo; fi; \
             if [ -f \"$d/.gitmodules\" ]; then echo submodules; fi"
        );
        let out = text(&exec(self.ctx, &line, None).await?.stdout);
        Ok((out.contains("repo"), out.contains("submodules")))
    }
}

async fn try_run(args: &Vars, ctx: &ModuleContext<'_>) -> Result<TaskResult, TaskResult> {
    if arg_bool(args, "accept_hostkey", false) && arg_bool(args, "accept_newhostkey", false) {
        return Err(TaskResult::failed(
            "parameters are mutually exclusive: accept_hostkey|accept_newhostkey",
        ));
    }
    let repo = arg_str(args, "repo").unwrap_or_default();
    // As Ansible: a path is a file:// URL, so that depth works with it.
    let repo = if repo.starts_with('/') {
        format!("file://{repo}")
    } else {
        repo.to_string()
    };
    let allow_clone = arg_bool(args, "clone", true);
    let dest = arg_str(args, "dest").map(|d| d.trim_end_matches('/').to_string());
    if dest.is_none() && allow_clone {
        return Err(TaskResult::failed(
            "the destination directory must be specified unless clone=no",
        ));
    }
    let mut prelude = format!(
        "export LANG=C LC_ALL=C LC_MESSAGES=C LC_CTYPE=C LANGUAGE=C GIT_SSH_COMMAND={}; ",
        shell_quote(&ssh_command(args))
    );
    if let Some(umask) = args.get("umask").filter(|v| !v.is_null()) {
        let umask = umask.as_str().unwrap_or_default();
        if umask.is_empty() || !umask.chars().all(|c| ('0'..='7').contains(&c)) {
            return Err(TaskResult::failed("umask must be an octal integer"));
        }
        prelude.push_str(&format!("umask {umask}; "));
    }
    let g = Git {
        ctx,
        prelude,
        git: arg_str(args, "executable").map_or_else(|| "git".into(), shell_quote),
        repo,
        dest,
        version: arg_str(args, "version").unwrap_or("HEAD"),
        remote: arg_str(args, "remote").unwrap_or("origin"),
        depth: args.get("depth").and_then(Json::as_i64),
        bare: arg_bool(args, "bare", false),
    };
    let (exists, submodules) = if g.dest.is_some() {
        g.probe().await?
    } else {
        (false, false)
    };
    if submodules && arg_bool(args, "recursive", true) && !g.bare {
        return Err(TaskResult::failed(
            "the repository has submodules, which rollout's git does not update: \
             set recursive: false, or update them with a command task",
        ));
    }
    let mut result = TaskResult::ok().with("before", Json::Null);
    let before: Option<String>;
    let mut local_mods = false;
    let mut remote_url_changed = false;

    if !exists {
        if ctx.check_mode || !allow_clone {
            let head = g.remote_head(&g.repo, true).await?;
            result.changed = true;
            result = result.with("after", head.clone());
            if ctx.diff {
                result = result.with(
                    "diff",
                    json!({"prepared": format!(">> Newly checked out {head}")}),
                );
            }
            return Ok(result);
        }
        g.clone(args).await?;
        before = None;
    } else if !arg_bool(args, "update", true) {
        let sha = g.rev_parse().await?;
        return Ok(result.with("before", sha.clone()).with("after", sha));
    } else {
        local_mods = g.has_local_mods().await?;
        let sha = g.rev_parse().await?;
        result = result.with("before", sha.clone());
        before = Some(sha);
        if local_mods {
            let dest = g.dest.as_deref().unwrap_or_default();
            if !arg_bool(args, "force", false) {
                let msg =
                    format!("Local modifications exist in the destination: {dest} (force=no).");
                return Err(TaskResult {
                    failed: true,
                    msg: Some(msg),
                    ..result
                });
            }
            if !ctx.check_mode {
                g.check(&["reset", "--hard", "HEAD"], "Failed to reset")
                    .await?;
                result.changed = true;
                result.msg = Some(format!(
                    "Local modifications exist in the destination: {dest}"
                ));
            }
        }
        if ctx.check_mode {
            let url = g.remote_url().await?;
            remote_url_changed = url.is_some_and(|u| !u.is_empty() && u != g.repo);
            let head = g.remote_head(g.remote, false).await?;
            result.changed = before.as_deref() != Some(head.as_str()) || remote_url_changed;
            return Ok(result
                .with("remote_url_changed", remote_url_changed)
                .with("after", head));
        }
        remote_url_changed = g.set_remote_url().await?;
        g.fetch(args).await?;
    }
    if !g.bare {
        g.switch_version().await?;
    }
    let after = g.rev_parse().await?;
    if exists {
        result = result.with("remote_url_changed", remote_url_changed);
    }
    if before.as_deref() != Some(after.as_str()) || local_mods || remote_url_changed {
        result.changed = true;
        if ctx.diff
            && let Some(diff) = g.diff(before.as_deref(), &after).await?
        {
            result = result.with("diff", diff);
        }
    }
    Ok(result.with("after", after))
}

#[cfg(test)]
mod tests {
    use super::super::remote_file::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn ssh_command_as_ansible_builds_it() {
        assert_eq!(ssh_command(&args(json!({}))), "ssh -o BatchMode=yes");
        assert_eq!(
            ssh_command(&args(json!({"accept_hostkey": true, "key_file": "/k ey"}))),
            "ssh -o StrictHostKeyChecking=no -o BatchMode=yes  -i '/k ey' -o IdentitiesOnly=yes"
        );
        assert_eq!(
            ssh_command(&args(
                json!({"ssh_opts": "-p 2222", "accept_newhostkey": true})
            )),
            "ssh -p 2222 -o StrictHostKeyChecking=accept-new -o BatchMode=yes"
        );
    }

    /// A bare origin with two tagged commits, in a temp dir (fixed dates,
    /// so SHAs are the same on every run).
    fn origin(h: &Harness) -> String {
        let origin = h.path("origin.git");
        let work = h.path("work");
        let script = format!(
            "set -e; export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
             GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e; \
             git init -q --bare -b main '{origin}'; git init -q -b main '{work}'; cd '{work}'; \
             echo 1 > f; git add f; git commit -q -m one; git tag v1; \
             echo 2 > f; git commit -q -am two; git tag -a v2 -m v2; \
             git remote add origin '{origin}'; git push -q origin main --tags"
        );
        let ok = std::process::Command::new("sh")
            .args(["-c", &script])
            .status()
            .unwrap();
        assert!(ok.success());
        origin
    }

    /// Whether this machine has git; says SKIPPED when not.
    fn have_git() -> bool {
        let found = std::process::Command::new("git")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            println!("SKIPPED: no git here");
            eprintln!("SKIPPED: no git here");
        }
        found
    }

    #[tokio::test]
    async fn clone_update_to_a_tag_local_changes_and_force() {
        if !have_git() {
            return;
        }
        let h = Harness::new(json!({}));
        let repo = origin(&h);
        let dest = h.path("co");
        let a = json!({"repo": repo, "dest": dest});
        let r = run(&args(a.clone()), &h.ctx(true, true)).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert!(!std::path::Path::new(&dest).exists());
        let head = r.data["after"].clone();
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["before"], Json::Null);
        assert_eq!(r.data["after"], head);
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(!r.changed && !r.failed, "{r:?}");
        assert_eq!(r.data["remote_url_changed"], false);

        let v1 = json!({"repo": repo, "dest": dest, "version": "v1"});
        let r = h.run_module(&MODULE, v1.clone()).await;
        assert!(r.changed, "{r:?}");
        assert_eq!(read_text(&format!("{dest}/f")), "1\n");
        assert!(!h.run_module(&MODULE, v1.clone()).await.changed);

        std::fs::write(format!("{dest}/f"), "local\n").unwrap();
        let r = h.run_module(&MODULE, v1).await;
        assert!(r.failed, "{r:?}");
        assert_eq!(
            r.msg.unwrap(),
            format!("Local modifications exist in the destination: {dest} (force=no).")
        );
        let forced = json!({"repo": repo, "dest": dest, "version": "v2", "force": true});
        let r = h.run_module(&MODULE, forced.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(read_text(&format!("{dest}/f")), "2\n");
        assert!(!h.run_module(&MODULE, forced).await.changed);

        // A SHA is checked out as it is.
        let v1_sha = std::process::Command::new("git")
            .args(["-C", &dest, "rev-parse", "v1^{commit}"])
            .output()
            .unwrap();
        let v1_sha = String::from_utf8_lossy(&v1_sha.stdout).trim().to_string();
        let by_sha = json!({"repo": repo, "dest": dest, "version": v1_sha});
        let r = h.run_module(&MODULE, by_sha.clone()).await;
        assert!(r.changed && r.data["after"] == json!(v1_sha), "{r:?}");
        assert!(!h.run_module(&MODULE, by_sha).await.changed);

        // Shallow: a tag cloned with --depth 1 --branch, then main fetched.
        let shallow = h.path("shallow");
        let a = json!({"repo": repo, "dest": shallow, "depth": 1, "version": "v1"});
        let r = h.run_module(&MODULE, a).await;
        assert!(r.changed && !r.failed, "{r:?}");
        let count = |d: &str| {
            let out = std::process::Command::new("git")
                .args(["-C", d, "rev-list", "--count", "--all"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        assert_eq!(count(&shallow), "1");
        let a = json!({"repo": repo, "dest": shallow, "depth": 1, "version": "main"});
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert_eq!(read_text(&format!("{shallow}/f")), "2\n");
        assert!(!h.run_module(&MODULE, a).await.changed);

        // A hostile remote name reaches git as one word, which refuses it.
        let bad = json!({"repo": repo, "dest": h.path(NASTY), "remote": "up'$(touch pwned)"});
        let r = h.run_module(&MODULE, bad).await;
        assert!(r.msg.unwrap().contains("is not a valid remote name"));
        let nasty = json!({"repo": repo, "dest": h.path(NASTY), "version": "v1", "remote": "up"});
        let r = h.run_module(&MODULE, nasty.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert!(!h.run_module(&MODULE, nasty).await.changed);
        assert_not_pwned(h.base());
    }

    #[tokio::test]
    async fn bare_mirrors_and_single_branch_clones() {
        if !have_git() {
            return;
        }
        let h = Harness::new(json!({}));
        let repo = origin(&h);
        let bare = h.path("mirror.git");
        let a = json!({"repo": repo, "dest": bare, "bare": true});
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        assert!(std::path::Path::new(&format!("{bare}/HEAD")).exists());
        let r = h.run_module(&MODULE, a).await;
        assert!(!r.changed && !r.failed, "{r:?}");

        let single = h.path("single");
        let a = json!({"repo": repo, "dest": single, "single_branch": true, "version": "main"});
        let r = h.run_module(&MODULE, a.clone()).await;
        assert!(r.changed && !r.failed, "{r:?}");
        let out = std::process::Command::new("git")
            .args(["-C", &single, "config", "remote.origin.fetch"])
            .output()
            .unwrap();
        let fetch = String::from_utf8_lossy(&out.stdout);
        assert_eq!(fetch.trim(), "+refs/heads/main:refs/remotes/origin/main");
        assert!(!h.run_module(&MODULE, a).await.changed);
        let r = h
            .run_module(&MODULE, json!({"repo": repo, "dest": h.path("x"), "accept_hostkey": true, "accept_newhostkey": true}))
            .await;
        assert!(r.failed && r.msg.unwrap().contains("mutually exclusive"));
    }
}
