//! Roles: finding a role on the search path, reading its layout
//! (`tasks/`, `handlers/`, `defaults/`, `vars/`, `meta/main.yml`
//! dependencies) and expanding it into tasks at load time, as Ansible does
//! for `roles:` and `import_role` (an `include_role`'s tasks are loaded
//! with the playbook too, and entered at run time like an include).
//!
//! A role's tasks carry a [`RoleRef`]: its name and directory (where
//! `template`, `copy` and `script` look first) and the variables its tasks
//! see, merged along the dependency chain. The play collects what its
//! roles export (defaults and vars every task sees) and their handlers.

use super::load::{Inherited, Loader, list_items, only_keys, read_yaml};
use super::model::{Action, RoleRef, RoleVars, Task, Vars};
use super::scalars::{Src, boolean, mapping, string};
use crate::diag::Diagnostic;
use crate::yaml::{Node, Value};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the loader needs from the run's configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Extra directories searched for roles, after the playbook's `roles/`
    /// (ansible.cfg's `roles_path`, `ANSIBLE_ROLES_PATH`).
    pub roles_path: Vec<PathBuf>,
}

/// The keywords a role entry (`roles:`, a dependency) takes; every other
/// key is a role parameter.
const ENTRY_KEYWORDS: &[&str] = &[
    "role",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "delegate_to",
    "timeout",
];

/// Keywords Ansible takes on a role entry that rollout does not act on: a
/// clear error rather than a role parameter of that name.
const UNSUPPORTED_ENTRY_KEYWORDS: &[&str] = &[
    "connection",
    "port",
    "remote_user",
    "become_method",
    "become_flags",
    "become_exe",
    "module_defaults",
    "diff",
    "throttle",
    "debugger",
    "delegate_facts",
    "collections",
];

/// The options of `import_role` / `include_role`.
pub(super) const ROLE_OPTIONS: &[&str] = &[
    "name",
    "tasks_from",
    "vars_from",
    "defaults_from",
    "handlers_from",
    "apply",
    "public",
    "allow_duplicates",
    "rolespec_validate",
];

/// One use of a role: where it is named and with what.
pub(super) struct RoleCall<'a> {
    pub name: String,
    /// The node naming the role (errors point at it).
    pub at: &'a Node,
    /// The entry whose keywords the role's tasks inherit (a `roles:` entry
    /// or a dependency); `None` for import/include_role (the task's).
    pub entry: Option<&'a Node>,
    pub params: Vars,
    /// `tasks_from`, `vars_from`, `defaults_from`, `handlers_from`.
    pub from: [Option<String>; 4],
    /// `roles:` entries and dependencies run once per distinct call.
    pub dedup: bool,
}

/// A role expanded: its tasks (its dependencies' first), its handlers and
/// what it exports to the play.
#[derive(Default)]
pub(super) struct Expanded {
    pub tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub exports: RoleVars,
}

/// The roles of the play being loaded.
#[derive(Debug, Default)]
pub(super) struct PlayRoles {
    /// Calls already expanded (role directory and call), for `dedup`.
    seen: Vec<(PathBuf, Json)>,
    /// Roles being expanded, outermost first (dependency cycles).
    stack: Vec<PathBuf>,
    /// The handlers of every role the play uses, each role's once.
    pub handlers: Vec<Task>,
    handler_files: Vec<PathBuf>,
    pub exports: RoleVars,
}

impl PlayRoles {
    /// Adds what a role exports to the play.
    pub fn export(&mut self, exports: RoleVars) {
        self.exports.defaults.extend(exports.defaults);
        self.exports.vars.extend(exports.vars);
    }
}

impl<'a> RoleCall<'a> {
    /// A `roles:` entry or a dependency: a name, or a mapping with `role:`
    /// (or `name:`), keywords and parameters.
    pub fn entry(src: Src, node: &'a Node) -> Result<RoleCall<'a>, Diagnostic> {
        if node.as_map().is_none() {
            return Ok(RoleCall {
                name: literal_name(src, node, string(src, node, "a role name")?)?,
                at: node,
                entry: None,
                params: Vars::new(),
                from: Default::default(),
                dedup: true,
            });
        }
        let at = node.get("role").or(node.get("name")).ok_or_else(|| {
            src.err(node, "this role entry names no role")
                .with_help("write '- role: NAME' (or just '- NAME')")
        })?;
        let mut params = Vars::new();
        for (key, value) in node.as_map().unwrap_or_default() {
            let k = key.key_text();
            if UNSUPPORTED_ENTRY_KEYWORDS.contains(&k.as_str()) {
                return Err(src
                    .err(key, format!("'{k}' on a role entry is not supported"))
                    .with_help("set it on the play, or on the role's tasks"));
            }
            if !ENTRY_KEYWORDS.contains(&k.as_str()) {
                params.insert(k, value.to_json());
            }
        }
        Ok(RoleCall {
            name: literal_name(src, at, string(src, at, "a role name")?)?,
            at,
            entry: Some(node),
            params,
            from: Default::default(),
            dedup: true,
        })
    }

    /// The options of `import_role` / `include_role` (a mapping or
    /// `key=value` text), already checked against [`ROLE_OPTIONS`].
    pub fn options(src: Src, value: &'a Node, options: &Vars) -> Result<RoleCall<'a>, Diagnostic> {
        let text = |key: &str| -> Result<Option<String>, Diagnostic> {
            match options.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) if s.contains("{{") || s.contains("{%") => Err(src
                    .err(
                        value.get(key).unwrap_or(value),
                        format!("'{key}' cannot be templated"),
                    )
                    .with_help("write it literally; roles are expanded when the playbook loads")),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(src.err(
                    value.get(key).unwrap_or(value),
                    format!("'{key}' must be a string, found {other}"),
                )),
            }
        };
        let name = text("name")?.ok_or_else(|| {
            src.err(value, "this role task names no role")
                .with_help("add 'name: ROLE'")
        })?;
        let at = value.get("name").unwrap_or(value);
        Ok(RoleCall {
            name,
            at,
            entry: None,
            params: Vars::new(),
            from: [
                text("tasks_from")?,
                text("vars_from")?,
                text("defaults_from")?,
                text("handlers_from")?,
            ],
            dedup: false,
        })
    }

    /// What makes two calls of one role the same call (Ansible's role
    /// cache key: parameters, keywords and `*_from`).
    fn key(&self) -> Json {
        let mut entry = match self.entry.map(Node::to_json) {
            Some(Json::Object(map)) => map,
            _ => Default::default(),
        };
        entry.remove("role");
        entry.remove("name");
        entry.insert("from".into(), serde_json::json!(self.from));
        Json::Object(entry)
    }
}

/// A role's name as written: templated names are refused (roles are
/// expanded when the playbook loads).
fn literal_name(src: Src, at: &Node, name: String) -> Result<String, Diagnostic> {
    if name.contains("{{") || name.contains("{%") {
        return Err(src
            .err(at, "role names cannot be templated")
            .with_help("name the role literally; use 'when:' to choose between roles"));
    }
    Ok(name)
}

/// The options an `import_role`/`include_role` value gives: a mapping or
/// `name=x tasks_from=y` text.
pub(super) fn role_options(src: Src, value: &Node) -> Result<Vars, Diagnostic> {
    match &value.value {
        Value::Map(_) => mapping(src, value),
        Value::Str(text) => {
            let mut options = Vars::new();
            for token in super::kv::split_tokens(text).map_err(|e| src.err(value, e))? {
                let (k, v) = super::kv::as_pair(&token).ok_or_else(|| {
                    src.err(
                        value,
                        format!("expected key=value options, found '{token}'"),
                    )
                    .with_help("write e.g. 'name=common tasks_from=setup'")
                })?;
                options.insert(k.to_string(), Json::String(super::kv::value(v)));
            }
            Ok(options)
        }
        _ => Err(src.err(
            value,
            format!("expected the role's options, found {}", value.type_name()),
        )),
    }
}

/// Refuses an option `import_role`/`include_role` does not take.
fn only_option_keys(src: Src, value: &Node, options: &Vars, what: &str) -> Result<(), Diagnostic> {
    if value.as_map().is_some() {
        return only_keys(src, value, ROLE_OPTIONS, &format!("{what}'s options"));
    }
    match options.keys().find(|k| !ROLE_OPTIONS.contains(&k.as_str())) {
        Some(k) => Err(src
            .err(value, format!("'{k}' is not a valid option of {what}"))
            .suggest(k, ROLE_OPTIONS.iter().copied())),
        None => Ok(()),
    }
}

/// `name.yml`, `name.yaml` or `name` (Ansible's order) in `dir`.
fn yaml_file(dir: &Path, name: &str) -> Option<PathBuf> {
    ["yml", "yaml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .chain([dir.join(name)])
        .find(|p| p.is_file())
}

/// A variables file of the role (`defaults/`, `vars/`): a mapping or
/// nothing; a directory of that name holds files merged in name order.
fn role_vars_file(dir: &Path, name: &str) -> Result<Vars, Diagnostic> {
    let as_dir = dir.join(name);
    if as_dir.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&as_dir)
            .map_err(|e| Diagnostic::new(format!("cannot read '{}': {e}", as_dir.display())))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "yml" || x == "yaml" || x == "json")
            })
            .collect();
        files.sort();
        let mut vars = Vars::new();
        for file in files {
            vars.extend(vars_mapping(&file)?);
        }
        return Ok(vars);
    }
    match yaml_file(dir, name) {
        Some(path) => vars_mapping(&path),
        None => Ok(Vars::new()),
    }
}

/// A YAML file holding a mapping of variables (or nothing).
fn vars_mapping(path: &Path) -> Result<Vars, Diagnostic> {
    let node = read_yaml(path)?;
    match node.to_json() {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Vars::new()),
        _ => Err(Diagnostic::at(
            path,
            node.span,
            "a role's variables file must hold a mapping of variables",
        )),
    }
}

impl Loader {
    /// A play's `roles:`: each entry's tasks, in order; their handlers and
    /// exports go to the play.
    pub(super) fn play_roles(
        &mut self,
        src: Src,
        node: &Node,
        inherited: &Inherited,
    ) -> Result<Vec<Task>, Diagnostic> {
        let help = "write '- NAME' or '- role: NAME' per role";
        let items = list_items(src, node, "roles", help)?;
        let mut tasks = Vec::new();
        for item in items {
            let expanded = self.expand_role(src, RoleCall::entry(src, item)?, inherited, None)?;
            tasks.extend(self.join_play(expanded, true));
        }
        Ok(tasks)
    }

    /// Gives the play a role's handlers (and its exports when public);
    /// returns its tasks.
    fn join_play(&mut self, expanded: Expanded, public: bool) -> Vec<Task> {
        self.roles.handlers.extend(expanded.handlers);
        if public {
            self.roles.export(expanded.exports);
        }
        expanded.tasks
    }

    /// `import_role`: the role's tasks in place, inheriting the task's
    /// keywords (static, like `import_tasks`).
    pub(super) fn import_role(
        &mut self,
        src: Src,
        value: &Node,
        here: &Inherited,
    ) -> Result<Vec<Task>, Diagnostic> {
        let options = role_options(src, value)?;
        only_option_keys(src, value, &options, "import_role")?;
        let call = RoleCall::options(src, value, &options)?;
        let expanded = self.expand_role(src, call, here, None)?;
        Ok(self.join_play(expanded, true))
    }

    /// `include_role`: entered per host at run time like `include_tasks`
    /// (its own `when`, `loop`, `tags`); its tasks are loaded now. Its
    /// variables stay its own unless `public: true`.
    pub(super) fn include_role(
        &mut self,
        src: Src,
        node: &Node,
        value: &Node,
        parent: &Inherited,
        here: &Inherited,
    ) -> Result<Action, Diagnostic> {
        let keywords: Vec<&str> = (super::load::INCLUDE_KEYWORDS.iter())
            .map(|k| {
                if *k == "include_tasks" {
                    "include_role"
                } else {
                    k
                }
            })
            .collect();
        only_keys(src, node, &keywords, "include_role").map_err(|e| {
            e.with_help("keywords for the role's tasks go under 'apply:' (include_role: {name: ..., apply: {...}})")
        })?;
        let options = role_options(src, value)?;
        only_option_keys(src, value, &options, "include_role")?;
        let public = match (options.get("public"), value.get("public")) {
            (Some(Json::Bool(b)), _) => *b,
            (Some(Json::String(s)), _) => crate::core::parse_bool(s).unwrap_or(false),
            (Some(_), Some(n)) => boolean(src, n)?,
            _ => false,
        };
        let inherited = self.included_inherit(src, value.get("apply"), parent, here)?;
        let call = RoleCall::options(src, value, &options)?;
        let name = call.name.clone();
        let expanded = self.expand_role(src, call, &inherited, None)?;
        let tasks = self.join_play(expanded, public);
        Ok(Action::Include {
            file: name.clone(),
            loaded: Some((PathBuf::from(&name), tasks)),
            context: Default::default(),
            role: Some(name),
        })
    }

    /// The role's directory: `<playbook>/roles/NAME`, then each roles path,
    /// then beside the playbook; a name that is a path is used as one.
    /// Returns the directory and the role's name: as written, or the
    /// directory's name for a path found as it is (Ansible's).
    fn find_role(&self, src: Src, call: &RoleCall) -> Result<(PathBuf, String), Diagnostic> {
        let mut searched = vec![self.playbook_dir.join("roles")];
        searched.extend(self.options.roles_path.iter().cloned());
        searched.push(self.playbook_dir.clone());
        let found = (searched.iter())
            .map(|dir| dir.join(&call.name))
            .find(|p| p.is_dir());
        if let Some(path) = found {
            return Ok((path, call.name.clone()));
        }
        let given = PathBuf::from(&call.name);
        if given.is_dir() {
            let name = given.file_name().map(|n| n.to_string_lossy().into_owned());
            return Ok((given, name.unwrap_or_else(|| call.name.clone())));
        }
        // Absolute, as Ansible lists them.
        let list = (searched.iter())
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        if call.name.split('.').count() >= 3 && !call.name.contains('/') {
            return Err(src
                .err(
                    call.at,
                    format!(
                        "the role '{}' is a collection role (namespace.collection.role): \
                         collections are not supported",
                        call.name
                    ),
                )
                .with_help(format!(
                    "copy the role into a roles directory ({list}) and name it by its directory"
                )));
        }
        Err(src
            .err(
                call.at,
                format!("the role '{}' was not found in {list}", call.name),
            )
            .with_help("check the name, or add its directory to ANSIBLE_ROLES_PATH"))
    }

    /// Expands a role call into its tasks (dependencies first), loading
    /// its handlers and variables. `parent` is what its tasks inherit;
    /// `chain` is the role that depends on this one, if any.
    pub(super) fn expand_role(
        &mut self,
        src: Src,
        call: RoleCall,
        parent: &Inherited,
        chain: Option<&RoleRef>,
    ) -> Result<Expanded, Diagnostic> {
        let (path, name) = self.find_role(src, &call)?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.roles.stack.contains(&canonical) {
            return Err(src.err(
                call.at,
                format!("the role '{}' depends on itself", call.name),
            ));
        }
        let meta_path = yaml_file(&path.join("meta"), "main");
        let meta = meta_path.as_deref().map(read_yaml).transpose()?;
        let meta_src = meta_path.as_deref().map(|file| Src { file });
        let allow_duplicates = match (
            meta_src,
            meta.as_ref().and_then(|m| m.get("allow_duplicates")),
        ) {
            (Some(msrc), Some(n)) => boolean(msrc, n)?,
            _ => false,
        };
        // A call made before is expanded again, for listings, but marked
        // not to run.
        let key = (canonical.clone(), call.key());
        let once = call.dedup && !allow_duplicates;
        let repeat = once && self.roles.seen.contains(&key);
        if once && !repeat {
            self.roles.seen.push(key);
        }
        let [tasks_from, vars_from, defaults_from, handlers_from] = &call.from;
        let defaults = role_vars_file(
            &path.join("defaults"),
            defaults_from.as_deref().unwrap_or("main"),
        )?;
        let own_vars = role_vars_file(&path.join("vars"), vars_from.as_deref().unwrap_or("main"))?;

        // The entry's keywords pass on to the role's tasks; its `vars:`
        // are role vars, above the play's.
        let mut here = match call.entry {
            Some(entry) => self.inherit(src, entry, parent)?,
            None => parent.clone(),
        };
        let entry_vars = match call.entry.and_then(|e| e.get("vars")) {
            Some(n) => mapping(src, n)?,
            None => Vars::new(),
        };
        here.vars = parent.vars.clone();

        self.roles.stack.push(canonical);
        let result = (|| {
            let mut out = Expanded::default();
            let mut role = RoleRef {
                name: name.clone(),
                path: path.clone(),
                ..RoleRef::default()
            };
            if let Some(chain) = chain {
                role.defaults = chain.defaults.clone();
                role.vars = chain.vars.clone();
                role.params = chain.params.clone();
            }
            Arc::make_mut(&mut role.params).extend(call.params.clone());
            // Dependencies run first; their exports are this role's too.
            if let (Some(msrc), Some(deps)) =
                (meta_src, meta.as_ref().and_then(|m| m.get("dependencies")))
            {
                let help = "write '- NAME' or '- role: NAME' per dependency";
                let items = list_items(msrc, deps, "roles", help)?;
                // A dependency's tasks see the roles depending on it.
                let mut chain_now = role.clone();
                Arc::make_mut(&mut chain_now.defaults).extend(defaults.clone());
                Arc::make_mut(&mut chain_now.vars).extend(entry_vars.clone());
                Arc::make_mut(&mut chain_now.vars).extend(own_vars.clone());
                for item in items {
                    let dep_call = RoleCall::entry(msrc, item)?;
                    let dep = self.expand_role(msrc, dep_call, &here, Some(&chain_now))?;
                    out.tasks.extend(dep.tasks);
                    out.handlers.extend(dep.handlers);
                    out.exports.defaults.extend(dep.exports.defaults);
                    out.exports.vars.extend(dep.exports.vars);
                }
            }
            out.exports.defaults.extend(defaults);
            out.exports.vars.extend(own_vars);
            Arc::make_mut(&mut role.defaults).extend(out.exports.defaults.clone());
            Arc::make_mut(&mut role.vars).extend(out.exports.vars.clone());
            Arc::make_mut(&mut role.vars).extend(entry_vars);
            here.role = Some(Arc::new(role));

            let tasks_dir = path.join("tasks");
            match (
                tasks_from,
                yaml_file(&tasks_dir, tasks_from.as_deref().unwrap_or("main")),
            ) {
                (_, Some(file)) => out.tasks.extend(self.task_file(&file, &here)?),
                (Some(name), None) => {
                    return Err(src.err(
                        call.at,
                        format!(
                            "the role '{}' has no tasks file '{name}' in {}",
                            call.name,
                            tasks_dir.display()
                        ),
                    ));
                }
                (None, None) => {}
            }
            if repeat {
                for task in &mut out.tasks {
                    task.for_each_mut(&mut |t| t.role_repeat = true);
                }
            }
            let handlers_dir = path.join("handlers");
            let handlers = yaml_file(&handlers_dir, handlers_from.as_deref().unwrap_or("main"));
            if let Some(file) = handlers.filter(|f| !self.roles.handler_files.contains(f)) {
                self.roles.handler_files.push(file.clone());
                out.handlers.extend(self.task_file(&file, &here)?);
            }
            Ok(out)
        })();
        self.roles.stack.pop();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::{Playbook, load_playbook};
    use std::fs;

    /// Writes `files` (path, text) under a temporary directory and loads
    /// its `site.yml`.
    fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Playbook, Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let pb = load_playbook(&dir.path().join("site.yml"));
        (dir, pb)
    }

    #[test]
    fn dependencies_come_first_once_per_parameters_and_see_their_chain() {
        let (_dir, pb) = load(&[
            (
                "site.yml",
                "- hosts: all\n  roles: [app, {role: app}]\n  handlers:\n    - {name: h, debug: msg=h}\n",
            ),
            (
                "roles/app/meta/main.yml",
                "dependencies:\n  - {role: base, n: 1}\n  - {role: base, n: 1}\n  - {role: base, n: 2}\n",
            ),
            ("roles/app/defaults/main.yml", "d: app\n"),
            ("roles/app/vars/main/a.yml", "v: first\nw: a\n"),
            ("roles/app/vars/main/b.yaml", "v: app\n"),
            ("roles/app/tasks/main.yml", "- debug: msg=app\n"),
            (
                "roles/app/handlers/main.yml",
                "- {name: restart, debug: msg=r}\n",
            ),
            ("roles/base/defaults/main.yml", "b: base\n"),
            (
                "roles/base/tasks/main.yml",
                "- name: base task\n  debug: msg=base\n",
            ),
        ]);
        let play = &pb.unwrap().plays[0];
        // Repeats (the second base n=1, the second app) are listed, not run.
        let runs: Vec<String> = (play.tasks.iter())
            .filter(|t| !t.role_repeat)
            .map(Task::display_name)
            .collect();
        assert_eq!(
            runs,
            ["base : base task", "base : base task", "app : debug"]
        );
        assert_eq!(play.tasks.len(), 8);
        let base = play.tasks[0].role.as_ref().unwrap();
        assert_eq!(base.params["n"], 1);
        assert_eq!(
            base.defaults["d"], "app",
            "a dependency sees the role depending on it"
        );
        let app = play.tasks[2].role.as_ref().unwrap();
        assert_eq!(
            (app.defaults["b"].as_str(), app.vars["v"].as_str()),
            (Some("base"), Some("app"))
        );
        assert_eq!(play.role_exports.defaults["d"], "app");
        assert_eq!(
            play.role_exports.vars["v"], "app",
            "vars/main/ files merge in order"
        );
        assert_eq!(play.role_exports.vars["w"], "a");
        // Role handlers first, each role's once, then the play's.
        let handlers: Vec<String> = play.handlers.iter().map(Task::display_name).collect();
        assert_eq!(handlers, ["app : restart", "h"]);
        assert!(
            play.handlers[0].answers_to("restart") && play.handlers[0].answers_to("app : restart")
        );
    }

    #[test]
    fn include_role_keeps_its_variables_unless_public() {
        let role = [
            ("roles/r/defaults/main.yml", "x: 1\n"),
            ("roles/r/tasks/main.yml", "- debug: msg=r\n"),
        ];
        for (public, exported) in [("false", false), ("true", true)] {
            let site = format!(
                "- hosts: all\n  tasks:\n    - include_role: {{name: r, public: {public}}}\n      when: go\n"
            );
            let (_dir, pb) = load(&[&[("site.yml", site.as_str())][..], &role].concat());
            let play = &pb.unwrap().plays[0];
            assert_eq!(play.role_exports.defaults.contains_key("x"), exported);
            let task = &play.tasks[0];
            assert_eq!(task.display_name(), "include_role : r");
            assert_eq!(task.when, ["go"]);
            let Action::Include {
                loaded: Some((_, tasks)),
                ..
            } = &task.action
            else {
                panic!("{task:?}")
            };
            assert!(
                tasks[0].when.is_empty(),
                "the include's when is checked once"
            );
        }
    }

    #[test]
    fn dependency_cycles_and_missing_files_are_errors() {
        let role_a = ("roles/a/tasks/main.yml", "[]\n");
        let cases: [(&[(&str, &str)], &str); 6] = [
            (
                &[
                    ("site.yml", "- hosts: all\n  roles: [a]\n"),
                    ("roles/a/meta/main.yml", "dependencies: [b]\n"),
                    ("roles/b/meta/main.yml", "dependencies: [a]\n"),
                ],
                "the role 'a' depends on itself",
            ),
            (
                &[
                    (
                        "site.yml",
                        "- hosts: all\n  tasks:\n    - import_role: name=a tasks_from=nope\n",
                    ),
                    role_a,
                ],
                "has no tasks file 'nope'",
            ),
            (
                &[
                    (
                        "site.yml",
                        "- hosts: all\n  roles:\n    - {role: a, remote_user: x}\n",
                    ),
                    role_a,
                ],
                "'remote_user' on a role entry is not supported",
            ),
            (
                &[("site.yml", "- hosts: all\n  roles: [\"{{ r }}\"]\n")],
                "role names cannot be templated",
            ),
            (
                &[(
                    "site.yml",
                    "- hosts: all\n  tasks:\n    - include_role: {name: \"{{ r }}\"}\n",
                )],
                "'name' cannot be templated",
            ),
            (
                &[(
                    "site.yml",
                    "- hosts: all\n  tasks:\n    - import_role: {name: a, tasks_from: \"{{ t }}\"}\n",
                )],
                "'tasks_from' cannot be templated",
            ),
        ];
        for (files, needle) in cases {
            let (_dir, pb) = load(files);
            let e = pb.unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
        let site = "- hosts: all\n  roles:\n    - {role: a, http_port: 1}\n";
        let (_dir, pb) = load(&[("site.yml", site), role_a]);
        assert!(pb.is_ok(), "other keys are role parameters: {:?}", pb.err());
    }
}
