//! Reads playbook files into the typed model, checking everything that can be
//! checked before a task runs: structure, keywords, modules, arguments,
//! includes. Every error points at a file, line and column.

use super::kv;
use super::model::*;
use super::roles::{LoadOptions, PlayRoles};
use super::scalars::{
    Src, become_method, boolean, conditions, connection, identifier, integer, mapping, percentage,
    seconds, string, string_list,
};
use crate::diag::Diagnostic;
use crate::modules::spec::{self, FreeForm};
use crate::plan::{HostOrder, SerialStep};
use crate::yaml::{self, Node, Value};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "order",
    "vars",
    "vars_files",
    "vars_prompt",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "become",
    "become_user",
    "become_method",
    "gather_facts",
    "gather_subset",
    "load_balancer",
    "rollback",
    "window_end",
    "notify_webhook",
    "tags",
    "environment",
    "remote_user",
    "connection",
    "no_log",
    "ignore_errors",
    "force_handlers",
    "roles",
];

/// The lookups a `with_<lookup>:` loop may name (run by the template
/// layer's plugins of the same names).
pub const WITH_LOOKUPS: &[&str] = &[
    "file",
    "fileglob",
    "first_found",
    "lines",
    "pipe",
    "env",
    "template",
    "password",
    "vars",
];

/// `with_<lookup>`: the lookup's name.
fn with_lookup(key: &str) -> Option<&str> {
    key.strip_prefix("with_")
        .filter(|name| WITH_LOOKUPS.contains(name))
}

const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "register",
    "loop",
    "with_items",
    "with_list",
    "loop_control",
    "until",
    "retries",
    "delay",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "ignore_unreachable",
    "any_errors_fatal",
    "notify",
    "listen",
    "tags",
    "no_log",
    "become",
    "become_user",
    "become_method",
    "connection",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "vars",
    "args",
    "environment",
    "check_mode",
    "diff",
    "timeout",
    "throttle",
    "async",
    "poll",
    "block",
    "rescue",
    "always",
    "import_tasks",
    "include_tasks",
    "import_role",
    "include_role",
];

/// The keywords `include_tasks` takes (Ansible's TaskInclude); the others
/// belong on the included tasks, through `apply:`.
pub(super) const INCLUDE_KEYWORDS: &[&str] = &[
    "include_tasks",
    "name",
    "when",
    "loop",
    "with_items",
    "with_list",
    "loop_control",
    "tags",
    "vars",
    "ignore_errors",
    "no_log",
    "register",
    "run_once",
    "timeout",
];

/// The keywords `apply:` passes on to the included tasks.
const APPLY_KEYWORDS: &[&str] = &[
    "when",
    "tags",
    "vars",
    "environment",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "no_log",
    "run_once",
    "check_mode",
    "diff",
    "delegate_to",
    "timeout",
];

const LOOP_CONTROL_KEYS: &[&str] = &["loop_var", "index_var", "label", "pause", "extended"];

/// Includes nested deeper than this are taken to be a cycle.
const MAX_INCLUDE_DEPTH: usize = 32;

/// Loads a playbook with the default options (no roles path).
pub fn load_playbook(path: &Path) -> Result<Playbook, Diagnostic> {
    load_playbook_with(path, &LoadOptions::default())
}

/// Loads a playbook and everything it imports, its roles included.
pub fn load_playbook_with(path: &Path, options: &LoadOptions) -> Result<Playbook, Diagnostic> {
    let playbook_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut loader = Loader::new(options, &playbook_dir, Vec::new());
    let plays = loader.playbook_file(path)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

/// Reads and parses a YAML file, turning I/O and syntax errors into diagnostics.
pub fn read_yaml(path: &Path) -> Result<Node, Diagnostic> {
    let text = crate::vault::read_to_string(path).map_err(|e| match e {
        crate::vault::ReadError::Io { .. } => Diagnostic::new(e.to_string()).with_help(
            "check the path; relative paths resolve from the including file's directory",
        ),
        vault => Diagnostic::from(vault),
    })?;
    yaml::parse(&text).map_err(|e| {
        let d = Diagnostic::yaml(path, &e, "YAML syntax error: ");
        if d.help.is_some() {
            return d;
        }
        d.with_help("check the indentation and quoting on or just above this line")
    })
}

/// Values inherited from enclosing plays, blocks, imports and roles.
#[derive(Debug, Clone, Default)]
pub(super) struct Inherited {
    when: Vec<String>,
    tags: Vec<String>,
    pub(super) vars: Vars,
    environment: Vars,
    become_enabled: Option<bool>,
    become_user: Option<String>,
    become_method: Option<String>,
    connection: Option<String>,
    ignore_errors: Option<bool>,
    no_log: Option<bool>,
    delegate_to: Option<String>,
    delegate_facts: Option<bool>,
    run_once: Option<bool>,
    check_mode: Option<bool>,
    diff: Option<bool>,
    any_errors_fatal: Option<bool>,
    ignore_unreachable: Option<bool>,
    /// A block's `timeout` applies to each task in it, as in Ansible.
    timeout: Option<u32>,
    /// A block's `throttle` applies to each task in it.
    throttle: Option<u32>,
    /// The role whose tasks these are.
    pub(super) role: Option<Arc<RoleRef>>,
}

/// What the tasks of an `include_tasks` inherit, kept to load its file
/// when the include runs.
#[derive(Debug, Clone, Default)]
pub struct IncludeContext {
    inherited: Inherited,
    /// The including file's directory: relative names resolve from it.
    base_dir: PathBuf,
    /// The files including this one, outermost first (to detect cycles).
    chain: Vec<PathBuf>,
    /// To find the roles the included file imports.
    options: LoadOptions,
    playbook_dir: PathBuf,
}

impl IncludeContext {
    /// The file a rendered name stands for.
    pub fn resolve(&self, name: &str) -> PathBuf {
        self.base_dir.join(name)
    }

    /// Loads and checks the included file, as the playbook's files were.
    pub fn load(&self, path: &Path) -> Result<Vec<Task>, Diagnostic> {
        let mut loader = Loader::new(&self.options, &self.playbook_dir, self.chain.clone());
        loader.task_file(path, &self.inherited)
    }
}

pub(super) struct Loader {
    /// Files being loaded, outermost first, to detect include cycles.
    chain: Vec<PathBuf>,
    pub(super) options: LoadOptions,
    /// The top playbook's directory: roles are searched from it.
    pub(super) playbook_dir: PathBuf,
    /// The roles of the play being loaded.
    pub(super) roles: PlayRoles,
}

impl Loader {
    fn new(options: &LoadOptions, playbook_dir: &Path, chain: Vec<PathBuf>) -> Loader {
        Loader {
            chain,
            options: options.clone(),
            playbook_dir: playbook_dir.to_path_buf(),
            roles: PlayRoles::default(),
        }
    }

    fn playbook_file(&mut self, path: &Path) -> Result<Vec<Play>, Diagnostic> {
        let root = self.enter(path)?;
        let src = Src { file: path };
        let result = (|| {
            let items = root.as_seq().ok_or_else(|| {
                src.err(
                    &root,
                    format!(
                        "a playbook must be a list of plays, found {}",
                        root.type_name()
                    ),
                )
                .with_help("start each play with '- hosts: ...'")
            })?;
            let mut plays = Vec::new();
            for item in items {
                if let Some(target) = item.get("import_playbook") {
                    let file = self.resolve_path(src, target)?;
                    plays.extend(self.playbook_file(&file)?);
                    continue;
                }
                plays.push(self.play(src, item)?);
            }
            Ok(plays)
        })();
        self.chain.pop();
        result
    }

    /// Reads a file and pushes it on the include chain (popped by the caller).
    fn enter(&mut self, path: &Path) -> Result<Node, Diagnostic> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.chain.contains(&canonical) || self.chain.len() >= MAX_INCLUDE_DEPTH {
            return Err(Diagnostic::new(format!(
                "'{}' includes itself (through {})",
                path.display(),
                self.chain
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            )));
        }
        let node = read_yaml(path)?;
        self.chain.push(canonical);
        Ok(node)
    }

    /// A task file's tasks, with what they inherit.
    pub(super) fn task_file(
        &mut self,
        file: &Path,
        inherited: &Inherited,
    ) -> Result<Vec<Task>, Diagnostic> {
        let root = self.enter(file)?;
        let result = self.task_list(Src { file }, &root, inherited);
        self.chain.pop();
        result
    }

    fn resolve_path(&self, src: Src, node: &Node) -> Result<PathBuf, Diagnostic> {
        let name = string(src, node, "a file name")?;
        if name.contains("{{") {
            return Err(src
                .err(node, "include file names cannot be templated")
                .with_help("name the file literally; use 'when:' to choose between includes"));
        }
        let candidate = src.dir().join(&name);
        if candidate.exists() {
            return Ok(candidate);
        }
        Err(src
            .err(
                node,
                format!(
                    "included file '{name}' not found (looked in {})",
                    src.dir().display()
                ),
            )
            .with_help("paths are relative to the file that includes them"))
    }

    fn play(&mut self, src: Src, node: &Node) -> Result<Play, Diagnostic> {
        let pairs = node.as_map().ok_or_else(|| {
            src.err(
                node,
                format!("a play must be a mapping, found {}", node.type_name()),
            )
        })?;
        for (key, _) in pairs {
            let k = key.key_text();
            if !PLAY_KEYWORDS.contains(&k.as_str()) {
                return Err(src
                    .err(key, format!("unknown play keyword '{k}'"))
                    .suggest(&k, PLAY_KEYWORDS.iter().copied()));
            }
        }
        let hosts_node = node.get("hosts").ok_or_else(|| {
            src.err(node, "this play has no 'hosts:'")
                .with_help("add e.g. 'hosts: all' or a group name")
        })?;
        let hosts = match &hosts_node.value {
            Value::Seq(items) => items
                .iter()
                .map(|n| string(src, n, "a host pattern"))
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => string(src, hosts_node, "a host pattern")?,
        };
        let name = opt(node, "name")
            .map(|n| string(src, n, "a string"))
            .transpose()?
            .unwrap_or_else(|| hosts.clone());
        let mut inherited = Inherited {
            become_method: opt(node, "become_method")
                .map(|n| become_method(src, n))
                .transpose()?,
            tags: opt(node, "tags")
                .map(|n| string_list(src, n))
                .transpose()?
                .unwrap_or_default(),
            become_enabled: opt(node, "become").map(|n| boolean(src, n)).transpose()?,
            become_user: opt(node, "become_user")
                .map(|n| string(src, n, "a user name"))
                .transpose()?,
            environment: opt(node, "environment")
                .map(|n| mapping(src, n))
                .transpose()?
                .unwrap_or_default(),
            no_log: opt(node, "no_log").map(|n| boolean(src, n)).transpose()?,
            ignore_errors: opt(node, "ignore_errors")
                .map(|n| boolean(src, n))
                .transpose()?,
            any_errors_fatal: opt(node, "any_errors_fatal")
                .map(|n| boolean(src, n))
                .transpose()?,
            ..Default::default()
        };
        let vars = opt(node, "vars")
            .map(|n| mapping(src, n))
            .transpose()?
            .unwrap_or_default();
        inherited.vars = Vars::new();

        // Roles load first (as Ansible's), their tasks run before `tasks`.
        self.roles = PlayRoles::default();
        let role_tasks = opt(node, "roles")
            .map(|n| self.play_roles(src, n, &inherited))
            .transpose()?
            .unwrap_or_default();
        let sections = ["pre_tasks", "tasks", "post_tasks", "handlers", "rollback"].map(|key| {
            opt(node, key)
                .map(|n| self.task_list(src, n, &inherited))
                .transpose()
                .map(Option::unwrap_or_default)
        });
        let [pre_tasks, tasks, post_tasks, handlers, rollback] = sections;
        let rollback = rollback?;
        let load_balancer = node
            .entry("load_balancer")
            .map(|(key, value)| {
                LoadBalancerSection::load(src.file, key, value, !rollback.is_empty())
            })
            .transpose()?;
        if let (Some((key, _)), None) = (node.entry("rollback"), &load_balancer)
            && !rollback.is_empty()
        {
            return Err(src.err(
                key,
                "'rollback' runs when a host fails out of rotation, so it needs a \
                 'load_balancer' section with on_failure: rollback",
            ));
        }
        // Role handlers come first, as in Ansible.
        let handlers: Vec<Task> = std::mem::take(&mut self.roles.handlers)
            .into_iter()
            .chain(handlers?)
            .collect();
        for h in &handlers {
            if h.name.is_none() && h.listen.is_empty() {
                return Err(Diagnostic::new(
                    "a handler needs a 'name' or 'listen' so tasks can notify it",
                )
                .with_location(h.location.clone()));
            }
        }

        Ok(Play {
            name,
            hosts,
            tags: inherited.tags.clone(),
            location: src.loc(node),
            serial: opt(node, "serial")
                .map(|n| serial(src, n))
                .transpose()?
                .unwrap_or(Serial::Steps(Vec::new())),
            max_fail_percentage: opt(node, "max_fail_percentage")
                .map(|n| percentage(src, n))
                .transpose()?,
            force_handlers: opt(node, "force_handlers")
                .map(|n| boolean(src, n))
                .transpose()?
                .unwrap_or(false),
            order: opt(node, "order")
                .map(|n| order(src, n))
                .transpose()?
                .unwrap_or_default(),
            vars,
            vars_files: opt(node, "vars_files")
                .map(|n| vars_files(src, n))
                .transpose()?
                .unwrap_or_default(),
            vars_prompt: opt(node, "vars_prompt")
                .map(|n| super::vars_prompt::parse(src, n))
                .transpose()?
                .unwrap_or_default(),
            pre_tasks: pre_tasks?,
            tasks: role_tasks.into_iter().chain(tasks?).collect(),
            post_tasks: post_tasks?,
            handlers,
            gather_facts: opt(node, "gather_facts")
                .map(|n| boolean(src, n))
                .transpose()?,
            gather_subset: opt(node, "gather_subset").map(Node::to_json),
            become_enabled: inherited.become_enabled,
            become_user: inherited.become_user.clone(),
            load_balancer,
            rollback,
            window_end: opt(node, "window_end")
                .map(|n| string(src, n, "a time (06:00 or RFC 3339)"))
                .transpose()?,
            notify_webhook: opt(node, "notify_webhook")
                .map(|n| string(src, n, "a URL"))
                .transpose()?,
            remote_user: opt(node, "remote_user")
                .map(|n| string(src, n, "a user name"))
                .transpose()?,
            connection: opt(node, "connection")
                .map(|n| connection(src, n))
                .transpose()?,
            base_dir: src.dir(),
            role_exports: std::mem::take(&mut self.roles.exports),
        })
    }

    fn task_list(
        &mut self,
        src: Src,
        node: &Node,
        inherited: &Inherited,
    ) -> Result<Vec<Task>, Diagnostic> {
        let items = list_items(
            src,
            node,
            "tasks",
            "each task starts with '- name: ...' or '- module: ...'",
        )?;
        let mut tasks = Vec::new();
        for item in items {
            self.task(src, item, inherited, &mut tasks)?;
        }
        Ok(tasks)
    }

    /// Parses one task into `out`; `import_tasks` expands in place.
    fn task(
        &mut self,
        src: Src,
        node: &Node,
        parent: &Inherited,
        out: &mut Vec<Task>,
    ) -> Result<(), Diagnostic> {
        let pairs = node.as_map().ok_or_else(|| {
            src.err(
                node,
                format!("a task must be a mapping, found {}", node.type_name()),
            )
        })?;
        let mut module_keys: Vec<&Node> = Vec::new();
        for (key, _) in pairs {
            let k = key.key_text();
            if !TASK_KEYWORDS.contains(&k.as_str()) && with_lookup(&k).is_none() {
                module_keys.push(key);
            }
        }
        let here = self.inherit(src, node, parent)?;
        let is_block = node.get("block").is_some();
        let import = node.get("import_tasks");
        let include = node.get("include_tasks");
        let import_role = node.get("import_role");
        let include_role = node.get("include_role");
        let structural = [is_block, import.is_some(), include.is_some()]
            .into_iter()
            .chain([import_role.is_some(), include_role.is_some()])
            .filter(|&b| b)
            .count();

        if structural > 1 || (structural == 1 && !module_keys.is_empty()) {
            let key = module_keys.first().copied().unwrap_or(node);
            return Err(unknown_key_error(src, key, structural > 1));
        }
        if structural == 0 && node.get("rescue").or(node.get("always")).is_some() {
            return Err(src
                .err(node, "'rescue' and 'always' belong to a 'block'")
                .with_help("put the tasks they guard under 'block:'"));
        }

        if let Some(target) = import {
            let file = self.resolve_path(src, target)?;
            out.extend(self.task_file(&file, &here)?);
            return Ok(());
        }
        if let Some(value) = import_role {
            out.extend(self.import_role(src, value, &here)?);
            return Ok(());
        }

        let action = if is_block {
            let mut lists = ["block", "rescue", "always"].map(|k| {
                opt(node, k)
                    .map(|n| self.task_list(src, n, &here))
                    .transpose()
                    .map(Option::unwrap_or_default)
            });
            let always = std::mem::replace(&mut lists[2], Ok(Vec::new()))?;
            let rescue = std::mem::replace(&mut lists[1], Ok(Vec::new()))?;
            let block = std::mem::replace(&mut lists[0], Ok(Vec::new()))?;
            Action::Block {
                block,
                rescue,
                always,
            }
        } else if let Some(target) = include {
            self.include_action(src, node, target, parent, &here)?
        } else if let Some(value) = include_role {
            self.include_role(src, node, value, parent, &here)?
        } else {
            self.module_action(src, node, &module_keys)?
        };
        if let (Action::Block { .. }, Some(loop_node)) =
            (&action, node.get("loop").or(node.get("with_items")))
        {
            return Err(src
                .err(loop_node, "'loop' cannot be used on a block")
                .with_help("loop over an 'include_tasks' instead, or over each task"));
        }
        out.push(self.finish_task(src, node, here, action)?);
        Ok(())
    }

    /// `include_tasks`. Its tasks inherit what encloses the include and its
    /// `vars`, not its other keywords (those are the include's own, as in
    /// Ansible; `apply:` passes keywords on).
    fn include_action(
        &mut self,
        src: Src,
        node: &Node,
        target: &Node,
        parent: &Inherited,
        here: &Inherited,
    ) -> Result<Action, Diagnostic> {
        only_keys(src, node, INCLUDE_KEYWORDS, "include_tasks").map_err(|e| {
            e.with_help("keywords for the included tasks go under 'apply:' (include_tasks: {file: ..., apply: {...}})")
        })?;
        let (file_node, apply) = match target.as_map() {
            Some(_) => {
                only_keys(src, target, &["file", "apply"], "include_tasks' options")?;
                let file = target
                    .get("file")
                    .ok_or_else(|| src.err(target, "include_tasks needs a 'file'"))?;
                (file, target.get("apply"))
            }
            None => (target, None),
        };
        let file = string(src, file_node, "a file name")?;
        let context = IncludeContext {
            inherited: self.included_inherit(src, apply, parent, here)?,
            base_dir: src.dir(),
            chain: self.chain.clone(),
            options: self.options.clone(),
            playbook_dir: self.playbook_dir.clone(),
        };
        // A templated name is rendered per host when the include runs.
        let loaded = if file.contains("{{") || file.contains("{%") {
            None
        } else {
            let path = self.resolve_path(src, file_node)?;
            let tasks = self.task_file(&path, &context.inherited)?;
            Some((path, tasks))
        };
        Ok(Action::Include {
            file,
            loaded,
            context: std::sync::Arc::new(context),
            role: None,
        })
    }

    /// What a dynamic include's tasks inherit: what encloses the include
    /// and its `vars`, then what `apply:` passes on.
    pub(super) fn included_inherit(
        &self,
        src: Src,
        apply: Option<&Node>,
        parent: &Inherited,
        here: &Inherited,
    ) -> Result<Inherited, Diagnostic> {
        let inherited = Inherited {
            vars: here.vars.clone(),
            ..parent.clone()
        };
        let Some(apply) = apply else {
            return Ok(inherited);
        };
        if apply.as_map().is_none() {
            return Err(src.err(apply, "'apply' must be a mapping of task keywords"));
        }
        only_keys(src, apply, APPLY_KEYWORDS, "apply")?;
        self.inherit(src, apply, &inherited)
    }

    fn module_action(
        &self,
        src: Src,
        node: &Node,
        module_keys: &[&Node],
    ) -> Result<Action, Diagnostic> {
        let known: Vec<&&Node> = module_keys
            .iter()
            .filter(|k| spec::lookup(&k.key_text()).is_some())
            .collect();
        let key = match (module_keys.len(), known.len()) {
            (0, _) => {
                return Err(src
                    .err(node, "this task has no module to run")
                    .with_help(format!(
                        "add one of: {}",
                        spec::module_names().collect::<Vec<_>>().join(", ")
                    )));
            }
            (1, 0) => return Err(unknown_key_error(src, module_keys[0], false)),
            (_, 1) => {
                let extra = module_keys
                    .iter()
                    .find(|k| spec::lookup(&k.key_text()).is_none());
                if let Some(extra) = extra {
                    return Err(unknown_key_error(src, extra, false));
                }
                *known[0]
            }
            (_, 0) => return Err(unknown_key_error(src, module_keys[0], false)),
            _ => {
                return Err(src
                    .err(
                        known[1],
                        format!(
                            "this task names two modules, '{}' and '{}'",
                            known[0].key_text(),
                            known[1].key_text()
                        ),
                    )
                    .with_help("split it into two tasks"));
            }
        };
        let name = key.key_text();
        let module = spec::lookup(&name).expect("checked above");
        let value = node.get(&name).expect("key exists");
        let mut args = module_args(src, module, value)?;
        if let Some(extra) = node.get("args") {
            for (k, v) in mapping(src, extra)? {
                args.entry(k).or_insert(v);
            }
        }
        if module.name == "meta" {
            let action = args
                .get("action")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            let meta = MetaAction::parse(&action).ok_or_else(|| {
                src.err(value, format!("unknown meta action '{action}'"))
                    .suggest(&action, MetaAction::NAMES)
            })?;
            return Ok(Action::Meta(meta));
        }
        let args = spec::validate(module, &args, true).map_err(|e| {
            let at = e
                .param
                .as_deref()
                .and_then(|p| value.get(p).map(|_| arg_key(value, p)))
                .unwrap_or(value);
            let mut d = src.err(at, e.message);
            d.help = e.help;
            d
        })?;
        Ok(Action::Module {
            module: module.name.to_string(),
            args,
        })
    }

    pub(super) fn inherit(
        &self,
        src: Src,
        node: &Node,
        parent: &Inherited,
    ) -> Result<Inherited, Diagnostic> {
        let mut here = parent.clone();
        if let Some(n) = opt(node, "when") {
            here.when.extend(conditions(src, n)?);
        }
        if let Some(n) = opt(node, "tags") {
            for t in string_list(src, n)? {
                if !here.tags.contains(&t) {
                    here.tags.push(t);
                }
            }
        }
        if let Some(n) = opt(node, "vars") {
            here.vars.extend(mapping(src, n)?);
        }
        if let Some(n) = opt(node, "environment") {
            here.environment.extend(mapping(src, n)?);
        }
        let bool_kw = |key: &str, slot: &mut Option<bool>| -> Result<(), Diagnostic> {
            if let Some(n) = opt(node, key) {
                *slot = Some(boolean(src, n)?);
            }
            Ok(())
        };
        bool_kw("become", &mut here.become_enabled)?;
        bool_kw("ignore_errors", &mut here.ignore_errors)?;
        bool_kw("no_log", &mut here.no_log)?;
        bool_kw("run_once", &mut here.run_once)?;
        bool_kw("delegate_facts", &mut here.delegate_facts)?;
        bool_kw("check_mode", &mut here.check_mode)?;
        bool_kw("diff", &mut here.diff)?;
        bool_kw("any_errors_fatal", &mut here.any_errors_fatal)?;
        bool_kw("ignore_unreachable", &mut here.ignore_unreachable)?;
        if let Some(n) = opt(node, "become_user") {
            here.become_user = Some(string(src, n, "a user name")?);
        }
        if let Some(n) = opt(node, "become_method") {
            here.become_method = Some(become_method(src, n)?);
        }
        if let Some(n) = opt(node, "connection") {
            here.connection = Some(connection(src, n)?);
        }
        if let Some(n) = opt(node, "delegate_to") {
            here.delegate_to = Some(string(src, n, "a host name")?);
        }
        if let Some(n) = opt(node, "timeout") {
            here.timeout = Some(integer(src, n)?).filter(|&t| t > 0);
        }
        if let Some(n) = opt(node, "throttle") {
            here.throttle = Some(integer(src, n)?).filter(|&t| t > 0);
        }
        Ok(here)
    }

    fn finish_task(
        &self,
        src: Src,
        node: &Node,
        here: Inherited,
        action: Action,
    ) -> Result<Task, Diagnostic> {
        let loop_control = opt(node, "loop_control");
        if let Some(lc) = loop_control {
            for (k, _) in lc
                .as_map()
                .ok_or_else(|| src.err(lc, "'loop_control' must be a mapping"))?
            {
                if !LOOP_CONTROL_KEYS.contains(&k.key_text().as_str()) {
                    return Err(src
                        .err(k, format!("unknown loop_control key '{}'", k.key_text()))
                        .suggest(&k.key_text(), LOOP_CONTROL_KEYS.iter().copied()));
                }
            }
        }
        let lc = |key: &str| loop_control.and_then(|n| opt(n, key));
        let lookup_loop = (node.as_map().unwrap_or_default().iter())
            .find_map(|(k, v)| Some((with_lookup(&k.key_text())?.to_string(), v)));
        if let (Some((_, v)), true) = (
            &lookup_loop,
            node.get("loop")
                .or(node.get("with_items"))
                .or(node.get("with_list"))
                .is_some(),
        ) {
            return Err(src.err(
                v,
                "use only one of 'loop', 'with_items' and 'with_<lookup>'",
            ));
        }
        let loop_items = match (
            opt(node, "loop").or(lookup_loop.as_ref().map(|(_, v)| *v)),
            opt(node, "with_items").or(opt(node, "with_list")),
        ) {
            (Some(_), Some(w)) => {
                return Err(src.err(w, "use either 'loop' or 'with_items', not both"));
            }
            (Some(n), None) => Some(n.to_json()),
            // with_items flattens one level, like Ansible's.
            (None, Some(n)) => Some(match (n.key_text().as_str(), n.to_json()) {
                (_, Json::Array(items)) if node.get("with_items").is_some() => Json::Array(
                    items
                        .into_iter()
                        .flat_map(|i| match i {
                            Json::Array(inner) => inner,
                            other => vec![other],
                        })
                        .collect(),
                ),
                (_, other) => other,
            }),
            (None, None) => None,
        };
        let async_job = async_job(src, node, &action)?;
        Ok(Task {
            name: opt(node, "name")
                .map(|n| string(src, n, "a string"))
                .transpose()?,
            location: src.loc(node),
            action,
            when: here.when,
            register: opt(node, "register")
                .map(|n| identifier(src, n))
                .transpose()?,
            loop_items,
            loop_lookup: lookup_loop.map(|(name, _)| name),
            loop_var: lc("loop_var")
                .map(|n| identifier(src, n))
                .transpose()?
                .unwrap_or_else(|| "item".into()),
            index_var: lc("index_var").map(|n| identifier(src, n)).transpose()?,
            loop_label: lc("label")
                .map(|n| string(src, n, "a string"))
                .transpose()?,
            until: opt(node, "until")
                .map(|n| conditions(src, n).map(|c| c.join(" and ")))
                .transpose()?,
            retries: opt(node, "retries")
                .map(|n| integer(src, n))
                .transpose()?
                .unwrap_or(3),
            delay: opt(node, "delay")
                .map(|n| seconds(src, n))
                .transpose()?
                .unwrap_or(std::time::Duration::from_secs(5)),
            changed_when: opt(node, "changed_when")
                .map(|n| conditions(src, n))
                .transpose()?,
            failed_when: opt(node, "failed_when")
                .map(|n| conditions(src, n))
                .transpose()?,
            ignore_errors: here.ignore_errors.unwrap_or(false),
            ignore_unreachable: here.ignore_unreachable.unwrap_or(false),
            any_errors_fatal: here.any_errors_fatal.unwrap_or(false),
            notify: opt(node, "notify")
                .map(|n| string_list(src, n))
                .transpose()?
                .unwrap_or_default(),
            listen: opt(node, "listen")
                .map(|n| string_list(src, n))
                .transpose()?
                .unwrap_or_default(),
            tags: here.tags,
            no_log: here.no_log.unwrap_or(false),
            become_enabled: here.become_enabled,
            become_user: here.become_user,
            become_method: here.become_method,
            connection: here.connection,
            delegate_to: here.delegate_to,
            delegate_facts: here.delegate_facts.unwrap_or(false),
            run_once: here.run_once.unwrap_or(false),
            vars: here.vars,
            environment: here.environment,
            check_mode: here.check_mode,
            diff: here.diff,
            timeout: here.timeout,
            throttle: here.throttle,
            async_job,
            include_loop: Default::default(),
            role: here.role,
            role_repeat: false,
        })
    }
}

/// A task's `async:` and `poll:` (Ansible's default poll is 15 seconds);
/// only modules that run a command can run detached.
fn async_job(src: Src, node: &Node, action: &Action) -> Result<Option<AsyncJob>, Diagnostic> {
    // `poll` without `async` is ignored, as in Ansible.
    let Some(limit_node) = opt(node, "async") else {
        return Ok(None);
    };
    let limit = integer(src, limit_node)?;
    let poll = opt(node, "poll").map(|n| integer(src, n)).transpose()?;
    if limit == 0 {
        return Ok(None);
    }
    let runs_detached = matches!(action, Action::Module { module, .. }
        if crate::modules::async_job::SUPPORTED.contains(&module.as_str()));
    if !runs_detached {
        let message = match action {
            Action::Module { module, .. } => {
                format!("This action ({module}) does not support async.")
            }
            Action::Meta(_) => "This action (meta) does not support async.".into(),
            _ => "'async' is not a valid attribute for a Block".into(),
        };
        return Err(src.err(limit_node, message).with_help(format!(
            "async runs only {}; remove 'async' (and 'poll') here",
            crate::modules::async_job::SUPPORTED.join(" and ")
        )));
    }
    Ok(Some(AsyncJob {
        limit,
        poll: poll.unwrap_or(15),
    }))
}

/// The items of a list of `what` (none for an empty value).
pub(super) fn list_items<'n>(
    src: Src,
    node: &'n Node,
    what: &str,
    help: &str,
) -> Result<&'n [Node], Diagnostic> {
    if node.is_null() {
        return Ok(&[]);
    }
    node.as_seq().ok_or_else(|| {
        src.err(
            node,
            format!("expected a list of {what}, found {}", node.type_name()),
        )
        .with_help(help)
    })
}

/// Refuses a key of `node` that is not in `allowed`.
pub(super) fn only_keys(
    src: Src,
    node: &Node,
    allowed: &[&str],
    what: &str,
) -> Result<(), Diagnostic> {
    for (key, _) in node.as_map().unwrap_or_default() {
        let k = key.key_text();
        if !allowed.contains(&k.as_str()) {
            return Err(src
                .err(key, format!("'{k}' is not a valid keyword for {what}"))
                .suggest(&k, allowed.iter().copied()));
        }
    }
    Ok(())
}

/// The key node of a named argument inside a module's argument mapping.
fn arg_key<'a>(args: &'a Node, name: &str) -> &'a Node {
    args.as_map()
        .and_then(|pairs| {
            pairs
                .iter()
                .find(|(k, _)| k.key_text() == name)
                .map(|(k, _)| k)
        })
        .unwrap_or(args)
}

fn unknown_key_error(src: Src, key: &Node, structural_clash: bool) -> Diagnostic {
    let name = key.key_text();
    if structural_clash {
        return src.err(
            key,
            "a task can hold only one of 'block', 'import_tasks', 'include_tasks', \
             'import_role', 'include_role' or a module",
        );
    }
    if let Some(kw) = crate::diag::did_you_mean(&name, TASK_KEYWORDS.iter().copied()) {
        return src
            .err(key, format!("unknown task keyword '{name}'"))
            .with_help(format!("did you mean '{kw}'?"));
    }
    if let Some(why) = spec::unsupported(&name) {
        return src
            .err(key, format!("module '{name}' is not supported"))
            .with_help(why);
    }
    src.err(key, format!("unknown module '{name}'"))
        .suggest(spec::canonical_name(&name), spec::module_names())
}

/// Module arguments given as a mapping, as `key=value` text, or empty.
fn module_args(src: Src, module: &spec::ModuleSpec, value: &Node) -> Result<Vars, Diagnostic> {
    match &value.value {
        Value::Null => Ok(Vars::new()),
        Value::Map(_) => mapping(src, value),
        Value::Str(text) => parse_kv_args(module, text).map_err(|e| src.err(value, e)),
        _ if matches!(module.free_form, FreeForm::Into(_)) => Err(src.err(
            value,
            format!(
                "'{}' takes a command line or a mapping of arguments, found {}",
                module.name,
                value.type_name()
            ),
        )),
        _ => Err(src
            .err(
                value,
                format!(
                    "'{}' takes a mapping of arguments, found {}",
                    module.name,
                    value.type_name()
                ),
            )
            .with_help(format!(
                "write e.g. '{}:' followed by indented 'key: value' lines",
                module.name
            ))),
    }
}

/// `key=value` text. For free-form modules, tokens that are not parameters of
/// the module stay in the free-form text, verbatim.
fn parse_kv_args(module: &spec::ModuleSpec, text: &str) -> Result<Vars, String> {
    let tokens = kv::split_tokens(text)?;
    let mut args = Vars::new();
    let mut free = Vec::new();
    for token in &tokens {
        match kv::as_pair(token) {
            Some((k, v))
                if module.param(k).is_some()
                    || (module.open_params && free.is_empty())
                    || matches!(module.free_form, FreeForm::No) =>
            {
                args.insert(k.to_string(), Json::String(kv::value(v)));
            }
            _ => free.push(token.as_str()),
        }
    }
    match module.free_form {
        // Without key=value parameters the text is kept verbatim, so a
        // multi-line `shell: |` script keeps its newlines.
        FreeForm::Into(param) if !free.is_empty() && args.is_empty() => {
            args.insert(param.to_string(), Json::String(text.trim_end().to_string()));
        }
        FreeForm::Into(param) if !free.is_empty() => {
            args.insert(param.to_string(), Json::String(free.join(" ")));
        }
        FreeForm::No if !free.is_empty() => {
            return Err(format!(
                "'{}' expects key=value arguments, found '{}'",
                module.name,
                free.join(" ")
            ));
        }
        _ => {}
    }
    Ok(args)
}

// ---- keyword values (scalars: see scalars.rs) ----

fn opt<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.get(key)
}

fn serial(src: Src, node: &Node) -> Result<Serial, Diagnostic> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) if items.is_empty() => {
            return Err(src
                .err(node, "'serial' is an empty list")
                .with_help("give a count, a percentage, or a list such as [1, \"25%\"]"));
        }
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut steps = Vec::new();
    for item in items {
        let text = match &item.value {
            Value::Int(i) => i.to_string(),
            Value::Str(s) if s.contains("{{") => {
                return Ok(Serial::Templated(node.to_json(), src.loc(node)));
            }
            Value::Str(s) => s.clone(),
            _ => {
                return Err(src.err(
                    item,
                    format!(
                        "invalid serial entry: expected a count or a percentage, found {}",
                        item.type_name()
                    ),
                ));
            }
        };
        steps.push(SerialStep::parse(&text).map_err(|e| {
            src.err(item, format!("invalid serial: {e}")).with_help(
                "use a count (2), a percentage (\"25%\"), or a ramp list ([1, 2, \"50%\"])",
            )
        })?);
    }
    Ok(Serial::Steps(steps))
}

fn order(src: Src, node: &Node) -> Result<HostOrder, Diagnostic> {
    let text = string(src, node, "a host order")?;
    HostOrder::parse(&text).ok_or_else(|| {
        src.err(node, format!("unknown order '{text}'"))
            .suggest(&text, HostOrder::NAMES)
    })
}

fn vars_files(src: Src, node: &Node) -> Result<Vec<VarsFile>, Diagnostic> {
    let items = node
        .as_seq()
        .ok_or_else(|| src.err(node, "'vars_files' must be a list of file names"))?;
    items
        .iter()
        .map(|item| {
            let candidates = match &item.value {
                Value::Seq(c) => c
                    .iter()
                    .map(|n| string(src, n, "a file name"))
                    .collect::<Result<_, _>>()?,
                _ => vec![string(src, item, "a file name")?],
            };
            Ok(VarsFile {
                candidates,
                location: src.loc(item),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn load(text: &str) -> Result<Playbook, Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yaml");
        fs::write(&path, text).unwrap();
        let pb = load_playbook(&path);
        drop(dir);
        pb
    }

    fn error(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn loads_tasks_with_locations() {
        let pb = load("- hosts: all\n  tasks:\n    - name: hi\n      debug: msg=hello\n    - command: echo hi chdir=/tmp\n").unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.tasks.len(), 2);
        assert_eq!(play.tasks[0].location.line, 3);
        match &play.tasks[1].action {
            Action::Module { module, args } => {
                assert_eq!(module, "command");
                assert_eq!(args["cmd"], "echo hi");
                assert_eq!(args["chdir"], "/tmp");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn connection_is_ssh_or_local_on_plays_blocks_and_tasks() {
        let pb = load("- hosts: all\n  connection: local\n  tasks:\n    - block:\n        - ping:\n      connection: ssh\n    - ping:\n      connection: local\n").unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.connection.as_deref(), Some("local"));
        assert_eq!(play.tasks[1].connection.as_deref(), Some("local"));
        let e = error("- hosts: all\n  tasks:\n    - ping:\n      connection: winrm\n");
        assert!(
            e.contains("connection 'winrm' is not supported: rollout connects with ssh or local"),
            "{e}"
        );
        assert!(e.contains(":4:"), "names the line: {e}");
        let e = error("- hosts: all\n  connection: docker\n  tasks: []\n");
        assert!(e.contains("connection 'docker' is not supported"), "{e}");
    }

    #[test]
    fn multi_line_free_form_is_verbatim() {
        let pb =
            load("- hosts: all\n  tasks:\n    - shell: |\n        a=1\n        echo $a\n").unwrap();
        let Action::Module { args, .. } = &pb.plays[0].tasks[0].action else {
            panic!()
        };
        assert_eq!(args["cmd"], "a=1\necho $a");
    }

    #[test]
    fn fully_qualified_module_and_args_keyword() {
        let pb = load("- hosts: all\n  tasks:\n    - ansible.builtin.shell: echo $HOME\n      args: {chdir: /tmp}\n").unwrap();
        let Action::Module { module, args } = &pb.plays[0].tasks[0].action else {
            panic!()
        };
        assert_eq!(module, "shell");
        assert_eq!(args["chdir"], "/tmp");
    }

    #[test]
    fn unknown_keyword_and_module_suggest() {
        let e = error("- hosts: all\n  taks: []\n");
        assert!(
            e.contains("unknown play keyword 'taks'")
                && e.contains(":2:3")
                && e.contains("did you mean 'tasks'"),
            "{e}"
        );
        let e = error("- hosts: all\n  tasks:\n    - comand: ls\n");
        assert!(
            e.contains("unknown module 'comand'")
                && e.contains(":3:7")
                && e.contains("did you mean 'command'"),
            "{e}"
        );
        let e = error("- hosts: all\n  tasks:\n    - command: ls\n      whn: x\n");
        assert!(
            e.contains("unknown task keyword 'whn'") && e.contains("did you mean 'when'"),
            "{e}"
        );
    }

    #[test]
    fn wrong_argument_type_and_name() {
        let e = error("- hosts: all\n  tasks:\n    - pause: {seconds: [1]}\n");
        assert!(e.contains("must be a duration"), "{e}");
        let e = error("- hosts: all\n  tasks:\n    - command: {cmd: ls, chdri: /tmp}\n");
        assert!(
            e.contains("unsupported parameter 'chdri'") && e.contains("did you mean 'chdir'"),
            "{e}"
        );
        let e = error("- hosts: all\n  tasks:\n    - debug: hello\n");
        assert!(e.contains("expects key=value"), "{e}");
    }

    #[test]
    fn out_of_range_durations_are_errors_at_their_line() {
        for (task, needle) in [
            (
                "haproxy:\n        wait_interval: -1",
                "'wait_interval': -1 is not",
            ),
            (
                "wait_for:\n        timeout: 1e20",
                "'timeout': 1e20 seconds is too long",
            ),
            ("pause:\n        seconds: -1", "'seconds': -1 is not"),
            ("uri:\n        timeout: \"99999999999h\"", "too long"),
            ("command: ls\n      delay: -5", "-5 is not a duration"),
            ("command: ls\n      delay: 1e30", "too long"),
        ] {
            let e = error(&format!("- hosts: all\n  tasks:\n    - {task}\n"));
            assert!(
                e.contains(needle) && e.contains("site.yaml:4:"),
                "{task}: {e}"
            );
        }
        let e = error("- hosts: all\n  tasks:\n    - command: ls\n      retries: 99999999999\n");
        assert!(e.contains("whole number up to") && e.contains(":4:"), "{e}");
    }

    #[test]
    fn invalid_serial() {
        for bad in ["0", "\"0%\"", "\"lots\"", "[]", "{a: 1}"] {
            let e = error(&format!("- hosts: all\n  serial: {bad}\n  tasks: []\n"));
            assert!(e.contains("serial") && e.contains(":2:"), "{bad}: {e}");
        }
        let pb = load("- hosts: all\n  serial: [1, \"50%\"]\n").unwrap();
        assert_eq!(
            pb.plays[0].serial,
            Serial::Steps(vec![SerialStep::Count(1), SerialStep::Percent(50.0)])
        );
    }

    #[test]
    fn malformed_yaml_has_location() {
        let e = error("- hosts: all\n  tasks:\n    - debug: {msg: [1, 2}\n");
        assert!(
            e.contains("YAML syntax error") && e.contains("site.yaml:3"),
            "{e}"
        );
    }

    #[test]
    fn blocks_inherit_and_imports_expand() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(
            dir.path().join("sub/inner.yaml"),
            "- debug: msg=inner\n- import_tasks: leaf.yaml\n",
        )
        .unwrap();
        fs::write(dir.path().join("sub/leaf.yaml"), "- debug: msg=leaf\n").unwrap();
        let path = dir.path().join("site.yaml");
        fs::write(&path, "- hosts: all\n  tasks:\n    - block:\n        - import_tasks: sub/inner.yaml\n      when: x\n      tags: [t]\n      rescue:\n        - debug: msg=r\n").unwrap();
        let pb = load_playbook(&path).unwrap();
        let Action::Block { block, rescue, .. } = &pb.plays[0].tasks[0].action else {
            panic!()
        };
        assert_eq!(
            block.len(),
            2,
            "import expanded relative to the including file"
        );
        assert_eq!(block[1].when, vec!["x".to_string()]);
        assert_eq!(block[1].tags, vec!["t".to_string()]);
        assert!(block[1].location.file.ends_with("leaf.yaml"));
        assert_eq!(rescue.len(), 1);
    }

    #[test]
    fn rollback_window_end_and_notify_webhook_play_keywords() {
        let pb = load(
            "- hosts: all\n  window_end: \"06:00\"\n  notify_webhook: http://h/x\n  load_balancer: {haproxy: {socket: /s, backend: b, server: s}}\n  rollback:\n    - command: ls\n",
        )
        .unwrap();
        let play = &pb.plays[0];
        assert_eq!(play.rollback.len(), 1);
        assert_eq!(play.window_end.as_deref(), Some("06:00"));
        assert_eq!(play.notify_webhook.as_deref(), Some("http://h/x"));
        let e = error("- hosts: all\n  rollback:\n    - command: ls\n");
        assert!(
            e.contains("needs a 'load_balancer'") && e.contains(":2:3"),
            "{e}"
        );
        let e = error("- hosts: all\n  window_end: [1]\n");
        assert!(e.contains("window_end") || e.contains("a time"), "{e}");
    }

    #[test]
    fn missing_include_and_cycles() {
        let e = error("- hosts: all\n  tasks:\n    - include_tasks: nope.yaml\n");
        assert!(
            e.contains("'nope.yaml' not found") && e.contains(":3:22"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.yaml"), "- import_tasks: a.yaml\n").unwrap();
        let path = dir.path().join("site.yaml");
        fs::write(
            &path,
            "- hosts: all\n  tasks:\n    - import_tasks: a.yaml\n",
        )
        .unwrap();
        let e = load_playbook(&path).unwrap_err().to_string();
        assert!(e.contains("includes itself"), "{e}");
    }

    #[test]
    fn include_tasks_is_dynamic() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("inner.yaml"),
            "- debug: msg=a\n- debug: msg=b\n  tags: [b]\n",
        )
        .unwrap();
        let path = dir.path().join("site.yaml");
        let site = |tasks: &str| {
            fs::write(
                &path,
                format!("- hosts: all\n  tags: [p]\n  tasks:\n{tasks}"),
            )
            .unwrap();
            load_playbook(&path)
        };
        // Its tags and other keywords are its own; `apply` passes them on.
        let pb = site("    - include_tasks: {file: inner.yaml, apply: {tags: [x], become: true}}\n      tags: [i]\n      vars: {v: 1}\n      when: c\n").unwrap();
        let task = &pb.plays[0].tasks[0];
        assert_eq!(task.tags, ["p", "i"]);
        let Action::Include {
            loaded: Some((file, inner)),
            ..
        } = &task.action
        else {
            panic!("{task:?}")
        };
        assert!(file.ends_with("inner.yaml"));
        assert_eq!(inner[0].tags, ["p", "x"]);
        assert_eq!(inner[1].tags, ["p", "x", "b"]);
        assert_eq!(inner[0].become_enabled, Some(true));
        assert_eq!(inner[0].vars["v"], 1);
        assert!(
            inner[0].when.is_empty(),
            "the include's when is checked once"
        );
        // A templated name is loaded when the include runs.
        let pb = site("    - include_tasks: \"{{ which }}.yaml\"\n      loop: [a]\n").unwrap();
        let Action::Include {
            file,
            loaded: None,
            context,
            ..
        } = &pb.plays[0].tasks[0].action
        else {
            panic!()
        };
        assert_eq!(file, "{{ which }}.yaml");
        let inner = context.load(&context.resolve("inner.yaml")).unwrap();
        assert_eq!(inner[1].tags, ["p", "b"]);
        let e = context
            .load(&context.resolve("nope.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
        // Keywords an include does not take are refused, as by Ansible.
        for (task, needle) in [
            (
                "include_tasks: inner.yaml\n      become: true",
                "'become' is not a valid keyword for include_tasks",
            ),
            (
                "include_tasks: {file: inner.yaml, aply: {}}",
                "did you mean 'apply'",
            ),
        ] {
            let e = site(&format!("    - {task}\n")).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("apply"), "{e}");
        }
    }

    #[test]
    fn handlers_need_names() {
        let e = error("- hosts: all\n  handlers:\n    - command: ls\n");
        assert!(e.contains("handler needs a 'name'"), "{e}");
    }

    #[test]
    fn meta_and_loop_control() {
        let pb = load("- hosts: all\n  tasks:\n    - meta: flush_handlers\n    - debug: var=x\n      loop: [1, 2]\n      loop_control: {loop_var: y}\n").unwrap();
        assert!(matches!(
            pb.plays[0].tasks[0].action,
            Action::Meta(MetaAction::FlushHandlers)
        ));
        assert_eq!(pb.plays[0].tasks[1].loop_var, "y");
        let e =
            error("- hosts: all\n  tasks:\n    - debug: var=x\n      loop_control: {loopvar: y}\n");
        assert!(e.contains("did you mean 'loop_var'"), "{e}");
    }
}
