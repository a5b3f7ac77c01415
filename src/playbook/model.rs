//! The typed playbook: plays and tasks with the source location of each.
//!
//! Inheritance is resolved by the loader: a task inside a block or an
//! `import_tasks` already carries the `when`, `tags`, `vars`, `become`… it
//! inherited, so the engine never walks up a tree.

pub use super::lb_section::LoadBalancerSection;
pub use super::vars_prompt::VarPrompt;
use crate::diag::Location;
use crate::plan::{HostOrder, SerialStep};
use serde_json::Value as Json;

pub use crate::core::Vars;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: std::path::PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    /// The play's own `tags` (already inherited by its tasks).
    pub tags: Vec<String>,
    pub location: Location,
    pub serial: Serial,
    pub max_fail_percentage: Option<f64>,
    /// `force_handlers` (or `--force-handlers`): notified handlers run on
    /// a host even after it failed.
    pub force_handlers: bool,
    pub order: HostOrder,
    pub vars: Vars,
    /// Each entry is a list of candidates; the first that exists is used.
    pub vars_files: Vec<VarsFile>,
    /// Variables asked of the user before the play (the app fills them
    /// into `vars`).
    pub vars_prompt: Vec<VarPrompt>,
    pub pre_tasks: Vec<Task>,
    pub tasks: Vec<Task>,
    pub post_tasks: Vec<Task>,
    pub handlers: Vec<Task>,
    pub gather_facts: Option<bool>,
    /// `gather_subset` for the play's fact gathering (a list or a
    /// comma-separated string, as the `setup` module takes it).
    pub gather_subset: Option<Json>,
    /// The play's `become` and `become_user` (already inherited by its
    /// tasks), for the tasks the engine adds (fact gathering).
    pub become_enabled: Option<bool>,
    pub become_user: Option<String>,
    /// The `load_balancer:` section, checked as written; rendered and
    /// resolved per host at run time.
    pub load_balancer: Option<LoadBalancerSection>,
    /// Runs on a host that failed out of rotation, with
    /// `on_failure: rollback`; the host goes back only if it turns healthy.
    pub rollback: Vec<Task>,
    /// `window_end`: as `--window-end` (the earlier of the two applies).
    pub window_end: Option<String>,
    /// `notify_webhook`: as `--notify-webhook` (both receive the events).
    pub notify_webhook: Option<String>,
    /// The user to log in as where no `ansible_user` variable says (a
    /// keyword: variables win over it, as in Ansible).
    pub remote_user: Option<String>,
    /// `connection:` (ssh, local) where no `ansible_connection` variable
    /// says (a keyword: variables win over it, as in Ansible).
    pub connection: Option<String>,
    /// Directory that relative paths (templates, vars files) resolve from.
    pub base_dir: std::path::PathBuf,
    /// The defaults and vars of the play's roles (`roles:`, `import_role`,
    /// a `public` `include_role`), which every task of the play sees.
    pub role_exports: RoleVars,
}

/// A role's defaults and vars (`defaults/`, `vars/`), merged.
#[derive(Debug, Clone, Default)]
pub struct RoleVars {
    pub defaults: Vars,
    pub vars: Vars,
}

/// The role a task comes from, with the variables its tasks see: its
/// dependency chain's and its own, merged at load time.
#[derive(Debug, Clone, Default)]
pub struct RoleRef {
    pub name: String,
    /// The role's directory: `templates/`, `files/` are looked up in it first.
    pub path: std::path::PathBuf,
    /// Lowest precedence, below inventory variables.
    pub defaults: std::sync::Arc<Vars>,
    /// `vars/` and the role entry's `vars:`, above play vars.
    pub vars: std::sync::Arc<Vars>,
    /// Role parameters (`- role: x` then `port: 80`), above facts.
    pub params: std::sync::Arc<Vars>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Serial {
    Steps(Vec<SerialStep>),
    /// A templated value, resolved with the play's variables at run time.
    Templated(Json, Location),
}

#[derive(Debug, Clone)]
pub struct VarsFile {
    pub candidates: Vec<String>,
    pub location: Location,
}

/// The three sections that make up a play's host work, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    PreTasks,
    Tasks,
    PostTasks,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::PreTasks, Section::Tasks, Section::PostTasks];
}

impl Play {
    pub fn section(&self, section: Section) -> &[Task] {
        match section {
            Section::PreTasks => &self.pre_tasks,
            Section::Tasks => &self.tasks,
            Section::PostTasks => &self.post_tasks,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    pub location: Location,
    pub action: Action,
    /// All conditions must hold, the inherited ones first.
    pub when: Vec<String>,
    pub register: Option<String>,
    pub loop_items: Option<Json>,
    /// `with_<lookup>:` the loop is the lookup's values over `loop_items`
    /// (its terms), as `query('<lookup>', *terms)`.
    pub loop_lookup: Option<String>,
    pub loop_var: String,
    pub index_var: Option<String>,
    pub loop_label: Option<String>,
    pub until: Option<String>,
    pub retries: u32,
    pub delay: std::time::Duration,
    pub changed_when: Option<Vec<String>>,
    pub failed_when: Option<Vec<String>>,
    pub ignore_errors: bool,
    /// An unreachable host counts as ok (and ignored) and carries on.
    pub ignore_unreachable: bool,
    /// A failure on one host fails every host of the batch (inherited from
    /// the play and blocks).
    pub any_errors_fatal: bool,
    pub notify: Vec<String>,
    /// Handler topics (handlers only).
    pub listen: Vec<String>,
    pub tags: Vec<String>,
    pub no_log: bool,
    pub become_enabled: Option<bool>,
    pub become_user: Option<String>,
    /// `become_method`: sudo or su.
    pub become_method: Option<String>,
    /// `connection: local` runs the task on the controller for its host.
    pub connection: Option<String>,
    pub delegate_to: Option<String>,
    /// `delegate_facts`: the facts a delegated task returns go to the
    /// delegated host, not to the host it ran for.
    pub delegate_facts: bool,
    pub run_once: bool,
    pub vars: Vars,
    pub environment: Vars,
    pub check_mode: Option<bool>,
    /// `diff`: show (or, with `false`, hide) this task's changes, over `--diff`.
    pub diff: Option<bool>,
    /// `timeout`: seconds one module call may take on a host (0: none).
    pub timeout: Option<u32>,
    /// `throttle`: at most this many hosts run the task at once (below
    /// `--forks`; 0 or unset: no limit).
    pub throttle: Option<u32>,
    /// `async:` with `poll:`: the command runs detached on the host.
    pub async_job: Option<AsyncJob>,
    /// The loop variables of the `include_tasks` this task was included
    /// by, set at run time (data: a loop item is never a template).
    pub include_loop: std::sync::Arc<Vars>,
    /// The role the task belongs to (its tasks, handlers, dependencies).
    pub role: Option<std::sync::Arc<RoleRef>>,
    /// Part of a role called again with the same parameters (`roles:`, a
    /// dependency): listed, never run, as Ansible skips a role that has
    /// already run on the host.
    pub role_repeat: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    Module {
        /// Canonical short name (`command`, not `ansible.builtin.command`).
        module: String,
        /// Validated arguments; templated values are rendered at run time.
        args: Vars,
    },
    Block {
        block: Vec<Task>,
        rescue: Vec<Task>,
        always: Vec<Task>,
    },
    /// `include_tasks`: dynamic, entered per host and loop item at run time
    /// (its `when` is on the task itself). A literal file name is loaded
    /// and checked with the playbook; a templated one per host when run.
    Include {
        /// The file name as written.
        file: String,
        /// The literal name's file and its tasks.
        loaded: Option<(std::path::PathBuf, Vec<Task>)>,
        /// What the included tasks inherit, to load a templated name.
        context: std::sync::Arc<super::load::IncludeContext>,
        /// `include_role`: the role's name (its tasks are `loaded`).
        role: Option<String>,
    },
    Meta(MetaAction),
}

/// A task's `async:` (seconds the job may run) and `poll:` (seconds
/// between checks; 0: started and left running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncJob {
    pub limit: u32,
    pub poll: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    FlushHandlers,
    Noop,
    EndPlay,
    EndHost,
    EndBatch,
    ClearHostErrors,
    ClearFacts,
    ResetConnection,
}

impl MetaAction {
    /// Every `meta:` action rollout accepts: the meta spec owns the list.
    pub const NAMES: [&'static str; 9] = crate::modules::spec::META_ACTIONS;

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "flush_handlers" => MetaAction::FlushHandlers,
            "noop" | "refresh_inventory" => MetaAction::Noop,
            "end_play" => MetaAction::EndPlay,
            "end_host" => MetaAction::EndHost,
            "end_batch" => MetaAction::EndBatch,
            "clear_host_errors" => MetaAction::ClearHostErrors,
            "clear_facts" => MetaAction::ClearFacts,
            "reset_connection" => MetaAction::ResetConnection,
            _ => return None,
        })
    }
}

impl Task {
    /// A task the engine runs on its own account (the load balancer steps of
    /// a rolling play), shown and counted like any other.
    pub fn synthetic(name: &str, location: Location) -> Task {
        Task {
            name: Some(name.to_string()),
            location,
            action: Action::Meta(MetaAction::Noop),
            when: vec![],
            register: None,
            loop_items: None,
            loop_lookup: None,
            loop_var: "item".into(),
            index_var: None,
            loop_label: None,
            until: None,
            retries: 3,
            delay: std::time::Duration::from_secs(5),
            changed_when: None,
            failed_when: None,
            ignore_errors: false,
            ignore_unreachable: false,
            any_errors_fatal: false,
            notify: vec![],
            listen: vec![],
            tags: vec![],
            no_log: false,
            become_enabled: None,
            become_user: None,
            become_method: None,
            connection: None,
            delegate_to: None,
            delegate_facts: false,
            run_once: false,
            vars: Vars::new(),
            environment: Vars::new(),
            check_mode: None,
            diff: None,
            timeout: None,
            throttle: None,
            async_job: None,
            include_loop: Default::default(),
            role: None,
            role_repeat: false,
        }
    }

    /// The tasks nested directly in this one (block/rescue/always, or an
    /// include's tasks), for walks over a whole task tree.
    pub fn children(&self) -> impl Iterator<Item = &Task> {
        let lists: [&[Task]; 3] = match &self.action {
            Action::Block {
                block,
                rescue,
                always,
            } => [block, rescue, always],
            Action::Include {
                loaded: Some((_, tasks)),
                ..
            } => [tasks, &[], &[]],
            _ => [&[], &[], &[]],
        };
        lists.into_iter().flatten()
    }

    /// The task as a rescue sees it in `ansible_failed_task`: its
    /// keywords, as Ansible's `Task.serialize()` names them (the name is
    /// empty when the task has none).
    pub fn to_json(&self) -> Json {
        let (action, args) = match &self.action {
            Action::Module { module, args } => (module.clone(), Json::Object(args.clone())),
            _ => (self.display_name(), Json::Object(Default::default())),
        };
        serde_json::json!({
            "name": self.name.clone().unwrap_or_default(),
            "action": action,
            "args": args,
            "when": self.when,
            "tags": self.tags,
            "register": self.register,
            "notify": self.notify,
            "ignore_errors": self.ignore_errors,
            "ignore_unreachable": self.ignore_unreachable,
            "any_errors_fatal": self.any_errors_fatal,
            "run_once": self.run_once,
            "delegate_to": self.delegate_to,
            "loop": self.loop_items,
            "until": self.until,
            "retries": self.retries,
            "changed_when": self.changed_when,
            "failed_when": self.failed_when,
            "no_log": self.no_log,
            "become": self.become_enabled,
            "become_user": self.become_user,
            "check_mode": self.check_mode,
            "diff": self.diff,
            "timeout": self.timeout,
            "throttle": self.throttle,
            "async": self.async_job.map(|j| j.limit),
            "poll": self.async_job.map(|j| j.poll),
            "vars": self.vars,
            "environment": self.environment,
        })
    }

    /// Sets the include-loop variables of this task and of those nested in it.
    pub fn set_include_loop(&mut self, vars: &std::sync::Arc<Vars>) {
        self.for_each_mut(&mut |task| task.include_loop = vars.clone());
    }

    /// Calls `f` on this task and on every task nested in it.
    pub fn for_each_mut(&mut self, f: &mut impl FnMut(&mut Task)) {
        f(self);
        let lists: Vec<&mut Vec<Task>> = match &mut self.action {
            Action::Block {
                block,
                rescue,
                always,
            } => vec![block, rescue, always],
            Action::Include {
                loaded: Some((_, tasks)),
                ..
            } => vec![tasks],
            _ => vec![],
        };
        for task in lists.into_iter().flatten() {
            task.for_each_mut(f);
        }
    }

    /// The name shown in `TASK [...]`: the task's name, else its module,
    /// prefixed `role : ` inside a role, as ansible-playbook shows them.
    pub fn display_name(&self) -> String {
        let own = self.own_name();
        match (&self.role, &self.action) {
            // An unnamed include_role is shown with the role it includes
            // (even inside another role).
            (
                _,
                Action::Include {
                    role: Some(name), ..
                },
            ) if self.name.is_none() => {
                format!("{own} : {name}")
            }
            (Some(role), _) => format!("{} : {own}", role.name),
            _ => own,
        }
    }

    /// The task's name, else its module (or kind of task).
    fn own_name(&self) -> String {
        match (&self.name, &self.action) {
            (Some(name), _) => name.clone(),
            (None, Action::Module { module, .. }) => module.clone(),
            (None, Action::Block { .. }) => "block".into(),
            (None, Action::Include { role: Some(_), .. }) => "include_role".into(),
            (None, Action::Include { .. }) => "include_tasks".into(),
            (None, Action::Meta(_)) => "meta".into(),
        }
    }

    /// The name `--list-tasks` shows: as in `TASK [...]`, except that an
    /// unnamed task is listed by its module alone (as ansible-playbook
    /// lists it, even in a role).
    pub fn listed_name(&self) -> String {
        match self.name {
            Some(_) => self.display_name(),
            None => self.own_name(),
        }
    }

    /// Whether a `notify:` entry names this handler: by name, by a
    /// `listen` topic, or as `role : name` for a role's handler.
    pub fn answers_to(&self, notified: &str) -> bool {
        let name = self.name.as_deref();
        name == Some(notified)
            || self.listen.iter().any(|l| l == notified)
            || (self.role.as_ref()).is_some_and(|role| {
                name.is_some_and(|n| format!("{} : {n}", role.name) == notified)
            })
    }

    /// Whether the task runs under `--tags` / `--skip-tags` (Ansible rules:
    /// `always` runs unless skipped by name, `never` only when asked for).
    pub fn selected_by(&self, tags: &[String], skip_tags: &[String]) -> bool {
        let has = |t: &str| self.tags.iter().any(|x| x == t);
        let listed = |list: &[String], t: &str| list.iter().any(|x| x == t);
        if skip_tags.iter().any(|t| {
            has(t)
                || (t == "tagged" && !self.tags.is_empty())
                || (t == "untagged" && self.tags.is_empty())
        }) {
            return false;
        }
        if has("always") {
            return true;
        }
        let asked = |t: &str| listed(tags, t);
        if has("never") && !self.tags.iter().any(|t| t != "never" && asked(t)) {
            return false;
        }
        if tags.is_empty() || asked("all") {
            return true;
        }
        (asked("tagged") && !self.tags.is_empty())
            || (asked("untagged") && self.tags.is_empty())
            || self.tags.iter().any(|t| asked(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_with_tags(tags: &[&str]) -> Task {
        let mut task = Task::synthetic("t", Location::new("x", Default::default()));
        task.tags = tags.iter().map(|s| s.to_string()).collect();
        task
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tag_selection_follows_ansible() {
        let deploy = task_with_tags(&["deploy"]);
        let always = task_with_tags(&["always"]);
        let never = task_with_tags(&["never", "debug"]);
        let untagged = task_with_tags(&[]);
        assert!(deploy.selected_by(&[], &[]));
        assert!(!never.selected_by(&[], &[]));
        assert!(never.selected_by(&s(&["debug"]), &[]));
        assert!(always.selected_by(&s(&["deploy"]), &[]));
        assert!(!always.selected_by(&[], &s(&["always"])));
        assert!(!untagged.selected_by(&s(&["deploy"]), &[]));
        assert!(untagged.selected_by(&s(&["untagged"]), &[]));
        assert!(!deploy.selected_by(&[], &s(&["deploy"])));
        assert!(deploy.selected_by(&s(&["tagged"]), &[]));
    }

    #[test]
    fn every_meta_action_the_spec_accepts_parses() {
        for name in MetaAction::NAMES {
            assert!(MetaAction::parse(name).is_some(), "{name}");
        }
    }
}
