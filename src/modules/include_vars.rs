//! `include_vars`: variables from YAML/JSON files on the controller, for
//! the rest of the run, at include_vars precedence (above the play's and
//! the task's vars, below `-e`). A file (`file:` or free-form) is looked up
//! under `vars/` then beside the playbook; a `dir:` is read in sorted
//! order, `depth` levels deep, filtered by `files_matching`,
//! `ignore_files` and `extensions`. `name:` stores everything under one
//! variable. The engine merges the result's `ansible_facts` as templates
//! (rendered when used, as any variable a user wrote).

use super::registry::{Module, ready};
use super::spec::{Kind, ModuleSpec, aliases, p};
use super::{ModuleContext, TaskResult, Vars, arg_bool, arg_str, copy};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

/// `include_vars`: what it accepts and how it runs.
pub const MODULE: Module = Module::new(
    ModuleSpec::new(
        "include_vars",
        &[
            aliases(p("file", Kind::Str), &["_raw_params"]),
            p("dir", Kind::Str),
            p("depth", Kind::Int),
            p("files_matching", Kind::Str),
            p("ignore_files", Kind::Any),
            p("extensions", Kind::List),
            p("ignore_unknown_extensions", Kind::Bool),
            p("name", Kind::Str),
        ],
    )
    .free_form("file"),
    |args, ctx| ready(run(args, ctx)),
);

const DIR_ARGS: &[&str] = &[
    "dir",
    "depth",
    "files_matching",
    "ignore_files",
    "extensions",
    "ignore_unknown_extensions",
];

pub fn run(args: &Vars, ctx: &ModuleContext<'_>) -> TaskResult {
    let dir_args = DIR_ARGS.iter().any(|a| args.contains_key(*a));
    let loaded = match (arg_str(args, "file"), dir_args) {
        (Some(_), true) => Err(
            "You are mixing file only and dir only arguments, these are incompatible".to_string(),
        ),
        (Some(file), false) => match copy::find_for_task(ctx, "vars", file.trim_end()) {
            Ok(path) => read_vars_file(&path).map(|vars| (vars, vec![path])),
            Err(failed) => return failed,
        },
        (None, true) => DirRequest::from_args(args)
            .and_then(|req| req.load(&dir_base(ctx.role_dir, ctx.base_dir, args))),
        (None, false) => Err("include_vars needs a file (or 'file:', or 'dir:')".to_string()),
    };
    let (mut vars, files) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => return TaskResult::failed(message),
    };
    if let Some(name) = arg_str(args, "name") {
        vars = Vars::from_iter([(name.to_string(), Json::Object(vars))]);
    }
    // Absolute, as Ansible reports them.
    let files: Vec<Json> = files
        .iter()
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .map(|f| Json::String(f.display().to_string()))
        .collect();
    TaskResult::ok()
        .with("ansible_included_var_files", Json::Array(files))
        .with("ansible_facts", Json::Object(vars))
}

/// Where a relative `dir:` starts: a role's `vars/` (the role itself for
/// `vars/...`), as Ansible, else the playbook's directory.
fn dir_base(role_dir: Option<&Path>, base: &Path, args: &Vars) -> PathBuf {
    let dir = arg_str(args, "dir").unwrap_or_default();
    match role_dir {
        Some(role) if dir.split('/').next() == Some("vars") => role.to_path_buf(),
        Some(role) => role.join("vars"),
        None => base.to_path_buf(),
    }
}

/// The variable names an include_vars task defines, read before the run
/// (for the lint); `None` when its arguments are templated. Files that
/// cannot be read define nothing here: the task reports them when it runs.
pub fn names_at_load(role_dir: Option<&Path>, base: &Path, args: &Vars) -> Option<Vec<String>> {
    if args
        .values()
        .any(|v| matches!(v, Json::String(s) if crate::template::is_template(s)))
    {
        return None;
    }
    if let Some(name) = arg_str(args, "name") {
        return Some(vec![name.to_string()]);
    }
    let loaded = match arg_str(args, "file") {
        Some(file) => {
            let file = file.trim_end();
            let in_role = role_dir.map(|role| [role.join("vars").join(file), role.join(file)]);
            (in_role.into_iter().flatten().find(|p| p.exists()))
                .or_else(|| copy::find_local(base, "vars", file).ok())
                .and_then(|path| read_vars_file(&path).ok())
        }
        None => (DirRequest::from_args(args).ok()).and_then(|req| {
            req.load(&dir_base(role_dir, base, args))
                .ok()
                .map(|(vars, _)| vars)
        }),
    };
    Some(
        loaded
            .map(|vars| vars.keys().cloned().collect())
            .unwrap_or_default(),
    )
}

/// A variables file's mapping (an empty file holds none). The one place
/// include_vars and the lint read a variables file.
pub fn read_vars_file(path: &Path) -> Result<Vars, String> {
    // One line for the task's message: where, then what.
    let node = crate::playbook::read_yaml(path).map_err(|d| match &d.location {
        Some(at) => format!("{at}: {}", d.message),
        None => d.message.clone(),
    })?;
    match node.to_json() {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Vars::new()),
        _ => Err(format!(
            "{} must be stored as a dictionary/hash",
            path.display()
        )),
    }
}

/// The options of a `dir:` include.
struct DirRequest {
    dir: String,
    /// 0: every level.
    depth: usize,
    files_matching: Option<regex::Regex>,
    ignore_files: Vec<regex::Regex>,
    extensions: Vec<String>,
    ignore_unknown_extensions: bool,
}

impl DirRequest {
    fn from_args(args: &Vars) -> Result<DirRequest, String> {
        let regex = |pattern: &str| {
            regex::Regex::new(pattern)
                .map_err(|e| format!("Invalid regular expression: {pattern}: {e}"))
        };
        let ignore_files: Vec<String> = match args.get("ignore_files") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(Json::Array(items)) => items.iter().map(crate::core::display_text).collect(),
            Some(other) => return Err(format!("{other} must be a list")),
        };
        let extensions = match args.get("extensions") {
            Some(Json::Array(items)) => items.iter().map(crate::core::display_text).collect(),
            _ => ["yaml", "yml", "json"].map(str::to_string).to_vec(),
        };
        Ok(DirRequest {
            dir: arg_str(args, "dir").unwrap_or_default().to_string(),
            depth: args.get("depth").and_then(Json::as_u64).unwrap_or(0) as usize,
            files_matching: arg_str(args, "files_matching").map(regex).transpose()?,
            ignore_files: (ignore_files.iter())
                .map(|p| regex(&format!("(?:{p})$")))
                .collect::<Result<_, _>>()?,
            extensions,
            ignore_unknown_extensions: arg_bool(args, "ignore_unknown_extensions", false),
        })
    }

    /// Every selected file's variables, later files over earlier ones.
    fn load(&self, base: &Path) -> Result<(Vars, Vec<PathBuf>), String> {
        let root = base.join(&self.dir);
        if !root.exists() {
            return Err(format!("{} directory does not exist", root.display()));
        }
        if !root.is_dir() {
            return Err(format!("{} is not a directory", root.display()));
        }
        let (mut vars, mut files) = (Vars::new(), Vec::new());
        for path in self.files(&root) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if self
                .files_matching
                .as_ref()
                .is_some_and(|m| !m.is_match(&name))
                || self.ignore_files.iter().any(|r| r.is_match(&name))
            {
                continue;
            }
            let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
            if !ext.is_some_and(|e| self.extensions.contains(&e)) {
                if self.ignore_unknown_extensions {
                    continue;
                }
                return Err(format!(
                    "{} does not have a valid extension: {}",
                    path.display(),
                    self.extensions.join(", ")
                ));
            }
            vars.extend(read_vars_file(&path)?);
            files.push(path);
        }
        Ok((vars, files))
    }

    /// The files under `root`, directory by directory in sorted order (as
    /// Ansible sorts its walk), no deeper than `depth`.
    fn files(&self, root: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![(root.to_path_buf(), 1)];
        let mut i = 0;
        while i < dirs.len() {
            let (dir, level) = dirs[i].clone();
            let subdirs = entries(&dir).into_iter().filter(|p| p.is_dir());
            if self.depth == 0 || level < self.depth {
                dirs.extend(subdirs.map(|d| (d, level + 1)));
            }
            i += 1;
        }
        dirs.sort();
        (dirs.iter())
            .flat_map(|(dir, _)| entries(dir).into_iter().filter(|p| !p.is_dir()))
            .collect()
    }
}

/// A directory's entries, sorted by name.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_vars_files_say_where_and_what() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.yml");
        std::fs::write(&broken, "a: [1, 2\nb: 3\n").unwrap();
        let err = read_vars_file(&broken).unwrap_err();
        assert!(err.contains("broken.yml:2:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let list = dir.path().join("list.yml");
        std::fs::write(&list, "- 1\n").unwrap();
        let err = read_vars_file(&list).unwrap_err();
        assert!(
            err.ends_with("list.yml must be stored as a dictionary/hash"),
            "{err}"
        );
        let empty = dir.path().join("empty.yml");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(read_vars_file(&empty).unwrap(), Vars::new());
    }

    #[test]
    fn lint_names_come_from_literal_files_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vars")).unwrap();
        std::fs::write(dir.path().join("vars/app.yml"), "a: 1\nb: 2\n").unwrap();
        let args = |v: serde_json::Value| v.as_object().unwrap().clone();
        let names = names_at_load(
            None,
            dir.path(),
            &args(serde_json::json!({"file": "app.yml"})),
        );
        assert_eq!(names, Some(vec!["a".to_string(), "b".to_string()]));
        let named = serde_json::json!({"file": "app.yml", "name": "app"});
        assert_eq!(
            names_at_load(None, dir.path(), &args(named)),
            Some(vec!["app".to_string()])
        );
        let templated = serde_json::json!({"file": "{{ os }}.yml"});
        assert_eq!(names_at_load(None, dir.path(), &args(templated)), None);
        let dir_args = serde_json::json!({"dir": "vars"});
        assert_eq!(
            names_at_load(None, dir.path(), &args(dir_args)).map(|n| n.len()),
            Some(2)
        );
    }
}
