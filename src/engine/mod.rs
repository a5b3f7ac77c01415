//! The engine: plays → batches → sections → tasks, Ansible's linear strategy.
//!
//! Within a batch each task runs on every active host (concurrently, bounded
//! by `--forks`) before the next task starts. Hosts that fail drop out of the
//! batch; blocks send them to `rescue` and `always`. Handlers flush at the end
//! of each section and on `meta: flush_handlers`. The engine emits
//! [`Event`]s and never prints.

mod access;
pub mod lint;
pub mod magic;
mod rolling;
pub mod scope;
pub mod start_at;
pub mod step;
pub mod stop;
mod task;
pub mod window;

use crate::connection::{Connection, local::LocalConnection};
use crate::diag::Diagnostic;
use crate::events::{Event, HostStats, Sink};
use crate::inventory::Inventory;
use crate::plan::{self, SerialStep};
use crate::playbook::{Action, MetaAction, Play, Playbook, Section, Serial, Task};
use crate::template::Templar;
use indexmap::IndexMap;
use scope::{Facts, Hostvars, Layer, Scope, Vars};
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct RunOptions {
    pub limit: Option<String>,
    pub extra_vars: Vars,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    pub check: bool,
    pub diff: bool,
    pub forks: usize,
    pub verbosity: u8,
    /// `-b`: become for every task unless a task says otherwise.
    pub become_all: bool,
    /// `--force-handlers`: every play's `force_handlers`.
    pub force_handlers: bool,
    pub become_user: Option<String>,
    pub become_password: Option<Secret>,
    /// `-c`: the connection of hosts that set no `ansible_connection`.
    pub connection: Option<String>,
    /// `--become-method`, ansible.cfg: where no task or host says.
    pub become_method: Option<String>,
    /// Ctrl-C / SIGTERM requests, shared with the caller.
    pub stop: Arc<stop::Stop>,
    /// `--window-end`: no batch starts that could not finish before it.
    pub window_end: Option<chrono::DateTime<chrono::Local>>,
    /// The run's webhooks; a play's `notify_webhook` joins them.
    pub webhooks: Option<Arc<dyn crate::events::Subscriptions>>,
    /// `--resume`: the last run, whose completed hosts are skipped.
    pub resume: Option<Arc<crate::state::resume::Resume>>,
    /// `--start-at-task`: tasks before it are skipped.
    pub start_at: Option<start_at::StartAt>,
    /// `--step`: asked before each task.
    pub step: Option<Arc<dyn step::StepGate>>,
    /// ansible.cfg's `gathering`: whether a play without `gather_facts`
    /// gathers, and whether hosts gathered earlier in the run gather again.
    pub gathering: crate::config::Gathering,
}

/// A secret that never shows in debug output.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// The play's hosts from `batch` on (those a later run must still do).
fn batches_left(hosts: &[String], batch: &[String]) -> Vec<String> {
    let first = batch
        .first()
        .and_then(|h| hosts.iter().position(|x| x == h))
        .unwrap_or(0);
    hosts[first..].to_vec()
}

/// Why the next batch must not start before the window (if any) closes.
fn window_refuses(
    end: Option<chrono::DateTime<chrono::Local>>,
    rolling: Option<&rolling::RollingPlay>,
    done: &[std::time::Duration],
) -> Option<String> {
    let left = (end? - chrono::Local::now()).to_std().unwrap_or_default();
    let first = rolling.map(|r| r.lifecycle.bounds()).unwrap_or_default();
    window::refuse_batch(left, done, first)
}

/// How a run ended, for the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub stats: Vec<(String, HostStats)>,
    /// Stopped by Ctrl-C / SIGTERM before every batch ran.
    pub interrupted: bool,
    /// A later play had a host failed earlier in the run among its hosts
    /// (it ran nothing there): Ansible's exit code counts it as failed,
    /// even when nothing was counted failed (any_errors_fatal, rescued).
    pub failed_carried: bool,
}

impl RunSummary {
    pub fn any_failed(&self) -> bool {
        self.failed_carried || self.stats.iter().any(|(_, s)| s.failed > 0)
    }
    pub fn any_unreachable(&self) -> bool {
        self.stats.iter().any(|(_, s)| s.unreachable > 0)
    }
}

/// Everything the engine knows of one host during a run.
#[derive(Debug, Clone, Default)]
struct HostState {
    /// set_fact and registered results, for the whole run.
    facts: Facts,
    /// The PLAY RECAP's counters.
    stats: HostStats,
    /// Where the host is within the current batch.
    flags: HostFlags,
    /// Handlers notified, by handler index.
    notified: HashSet<usize>,
    /// Failed or unreachable in an earlier batch or play: runs nothing
    /// more in this run, as in Ansible (still in `ansible_play_hosts_all`).
    failed_in_run: bool,
}

/// Where a host is within the current batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct HostFlags {
    failed: bool,
    unreachable: bool,
    /// `meta: end_host` / `end_play`: done for this play without failing.
    ended: bool,
    /// Failed by another host's failure under `any_errors_fatal`: runs no
    /// later play even if a rescue takes it over (Ansible's quirk).
    fatal: bool,
}

impl HostFlags {
    /// Still running tasks in this play.
    fn running(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }
}

/// Everything fixed for the duration of one play.
struct PlayCtx<'a> {
    play: &'a Play,
    play_vars: Arc<Vars>,
    /// The defaults and vars the play's roles export to every task.
    role_defaults: Arc<Vars>,
    role_vars: Arc<Vars>,
    vars_files: Arc<Vars>,
    play_hosts: Vec<String>,
    batch: Vec<String>,
}

pub struct Engine {
    inventory: Arc<Inventory>,
    templar: Arc<Templar>,
    opts: RunOptions,
    extra: Arc<Vars>,
    sink: Sink,
    /// Inventory variables per host, merged once.
    inventory_vars: Arc<HashMap<String, Arc<Vars>>>,
    /// The `groups` magic variable (the inventory never changes in a run).
    groups: Arc<Vars>,
    /// Per host, in the order hosts first ran (the recap's order).
    hosts: IndexMap<String, HostState>,
    local: Arc<dyn Connection>,
    /// How each host is reached, resolved once per host per play (the
    /// sessions themselves are the SSH pool's).
    ssh: Option<crate::ssh::SshPool>,
    access: std::sync::Mutex<HashMap<String, Arc<access::HostAccess>>>,
    play_access: access::PlayAccess,
    playbook_dir: PathBuf,
    /// Set by `meta: end_play` or a fatal error: no more batches of this play.
    end_play: bool,
    /// Set by `max_fail_percentage` or a batch whose every host failed
    /// (which is what `any_errors_fatal` leads to): no further play runs
    /// (Ansible's RUN_FAILED_BREAK_PLAY).
    break_run: bool,
    /// Depth of blocks with a `rescue:` the current task runs in: a
    /// failure there may still be rescued, so it does not count yet.
    rescuing: usize,
    /// A stop request ended the run early.
    interrupted: bool,
    /// See [`RunSummary::failed_carried`].
    failed_carried: bool,
    /// `--start-at-task` until its task is found (then `None`).
    start_at: Option<start_at::StartAt>,
    /// `--step` and not told to continue in this batch.
    stepping: bool,
}

impl Engine {
    pub fn new(inventory: Inventory, templar: Templar, opts: RunOptions, sink: Sink) -> Self {
        let inventory_vars = Arc::new(
            inventory
                .hosts()
                .map(|h| (h.to_string(), Arc::new(inventory.host_vars(h))))
                .collect(),
        );
        let groups = Arc::new(inventory.groups_map());
        Engine {
            extra: Arc::new(opts.extra_vars.clone()),
            start_at: opts.start_at.clone(),
            inventory: Arc::new(inventory),
            templar: Arc::new(templar),
            opts,
            sink,
            inventory_vars,
            groups,
            hosts: IndexMap::new(),
            local: Arc::new(LocalConnection),
            ssh: None,
            access: std::sync::Mutex::new(HashMap::new()),
            play_access: Default::default(),
            playbook_dir: PathBuf::from("."),
            end_play: false,
            break_run: false,
            rescuing: 0,
            interrupted: false,
            failed_carried: false,
            stepping: false,
        }
    }

    /// Hosts whose connection is not local are reached through this pool.
    pub fn with_ssh(mut self, pool: crate::ssh::SshPool) -> Self {
        self.ssh = Some(pool);
        self
    }

    /// Closes every SSH connection (end of run).
    pub async fn close(&self) {
        if let Some(pool) = &self.ssh {
            pool.close_all().await;
        }
    }

    pub fn templar(&self) -> &Templar {
        &self.templar
    }

    /// The hosts a play targets, after `--limit`, in the play's `order`.
    pub fn play_hosts(&self, play: &Play) -> Result<Vec<String>, Diagnostic> {
        let mut hosts = self.selected_hosts(play)?;
        play.order.apply(&mut hosts, seed());
        Ok(hosts)
    }

    /// The hosts a play targets, after `--limit`, in the pattern's order
    /// (`ansible_play_hosts_all`'s: `order` changes only the execution's).
    fn selected_hosts(&self, play: &Play) -> Result<Vec<String>, Diagnostic> {
        let selection = self
            .inventory
            .select_limited(&play.hosts, self.opts.limit.as_deref())?;
        for term in &selection.unmatched {
            self.sink.emit(Event::Warning {
                message: format!("Could not match supplied host pattern, ignoring: {term}"),
            });
        }
        Ok(selection.hosts)
    }

    /// The batches `serial` cuts the play's hosts into.
    pub fn batches(&self, play: &Play, hosts: &[String]) -> Result<Vec<Vec<String>>, Diagnostic> {
        let steps = match &play.serial {
            Serial::Steps(steps) => steps.clone(),
            Serial::Templated(raw, location) => {
                let scope = self.play_scope(play, &Arc::new(Vars::new()));
                let err = |msg: String| {
                    Diagnostic::new(format!("invalid serial: {msg}"))
                        .with_location(location.clone())
                };
                let value = self
                    .templar
                    .render_value(raw, &scope)
                    .map_err(|e| err(e.to_string()))?;
                let items = match value {
                    Json::Array(items) => items,
                    other => vec![other],
                };
                items
                    .iter()
                    .map(|v| SerialStep::parse(&crate::core::display_text(v)).map_err(&err))
                    .collect::<Result<_, _>>()?
            }
        };
        Ok(plan::batches(hosts, &steps))
    }

    fn play_scope(&self, play: &Play, vars_files: &Arc<Vars>) -> minijinja::Value {
        Scope::new(
            self.templar.clone(),
            vec![
                Arc::new(play.vars.clone()).into(),
                vars_files.clone().into(),
                self.extra.clone().into(),
            ],
            Vars::new(),
            None,
        )
        .into_value()
    }

    pub async fn run(&mut self, playbook: &Playbook) -> Result<RunSummary, crate::error::Error> {
        // Absolute, as Ansible's `playbook_dir` is.
        let path = std::path::absolute(&playbook.path).unwrap_or_else(|_| playbook.path.clone());
        self.playbook_dir = path.parent().map(PathBuf::from).unwrap_or_default();
        let keys: Vec<String> = (playbook.plays.iter().enumerate())
            .map(|(i, play)| crate::state::resume::play_key(&playbook.path, i, &play.name))
            .collect();
        if let Some(resume) = &self.opts.resume {
            for key in resume.unknown_plays(&keys) {
                self.sink.emit(Event::Warning {
                    message: format!(
                        "--resume: the last run completed hosts in play '{key}', which this \
                         playbook no longer has at that position; none of its hosts are skipped"
                    ),
                });
            }
        }
        for (play, key) in playbook.plays.iter().zip(&keys) {
            self.run_play(play, key).await?;
            if self.break_run {
                break;
            }
        }
        // As Ansible's recap, only hosts with something counted (a host
        // ended before its first task has no line).
        let stats: Vec<(String, HostStats)> = (self.hosts.iter())
            .filter(|(_, s)| s.stats != HostStats::default())
            .map(|(h, s)| (h.clone(), s.stats))
            .collect();
        self.sink.emit(Event::Recap {
            hosts: stats.clone(),
        });
        Ok(RunSummary {
            stats,
            interrupted: self.interrupted,
            failed_carried: self.failed_carried,
        })
    }

    async fn run_play(&mut self, play: &Play, key: &str) -> Result<(), crate::error::Error> {
        // Facts set in an earlier play may change how a host is reached.
        self.forget_access(play);
        let selected = self.selected_hosts(play)?;
        let mut hosts = selected.clone();
        play.order.apply(&mut hosts, seed());
        // Play names are templated with the play's vars and extra vars, as
        // Ansible's are ("Roll out {{ version }}").
        let scope = self.play_scope(play, &Arc::new(Vars::new()));
        let name = self
            .templar
            .render_str(&play.name, &scope)
            .unwrap_or_else(|_| play.name.clone());
        let keyword_error = |key: &str, e: String| {
            Diagnostic::new(format!("{key}: {e}")).with_location(play.location.clone())
        };
        let play_keyword =
            |key: &str, raw: &Option<String>| -> Result<Option<String>, Diagnostic> {
                let Some(raw) = raw else { return Ok(None) };
                (self.templar.render_str(raw, &scope))
                    .map(Some)
                    .map_err(|e| keyword_error(key, e.to_string()))
            };
        if let Some(url) = play_keyword("notify_webhook", &play.notify_webhook)? {
            (self.opts.webhooks.as_ref())
                .ok_or_else(|| format!("cannot post to {url}: this run has no webhook output"))
                .and_then(|hooks| hooks.subscribe(&url))
                .map_err(|e| keyword_error("notify_webhook", e))?;
        }
        // The earlier of --window-end and the play's window_end applies.
        let window_end = match play_keyword("window_end", &play.window_end)? {
            Some(text) => {
                let end = window::parse_window_end(&text, chrono::Local::now())
                    .map_err(|e| keyword_error("window_end", e))?;
                Some(self.opts.window_end.map_or(end, |cli| cli.min(end)))
            }
            None => self.opts.window_end,
        };
        self.sink.emit(Event::PlayStart {
            name: name.clone(),
            hosts: hosts.clone(),
        });
        // Before --start-at-task's play, a play runs nothing (as in Ansible),
        // and a rolling play takes no host out of rotation for nothing.
        if Section::ALL
            .iter()
            .all(|section| self.starts_after(play.section(*section)))
        {
            return Ok(());
        }
        let hosts = self.skip_completed(key, hosts);
        if hosts.is_empty() {
            self.sink.emit(Event::NoHostsMatched {
                play: play.name.clone(),
            });
            return Ok(());
        }
        let vars_files = Arc::new(self.load_vars_files(play)?);
        let batches = self.batches(play, &hosts)?;
        let running: HashSet<&String> = hosts.iter().collect();
        let hosts_all: Vec<String> = (selected.iter())
            .filter(|h| running.contains(h))
            .cloned()
            .collect();
        self.end_play = false;
        let count = batches.len();
        let mut rolling = None;
        let mut durations = Vec::new();
        // Set when the journal failed to write: stop before the next batch
        // or lifecycle step, since --resume could not continue from it.
        let mut broken = None;
        for (index, batch) in batches.into_iter().enumerate() {
            broken = self.sink.broken();
            if broken.is_some() {
                break;
            }
            if self.opts.stop.requested() {
                let left: usize = count - index;
                self.sink.emit(Event::PlayAborted {
                    reason: format!(
                        "interrupted: the hosts in flight finished, {left} batch(es) not started; \
                         run the same command with --resume to continue"
                    ),
                });
                self.interrupted = true;
                break;
            }
            self.stepping = self.opts.step.is_some();
            // Hosts that failed earlier in the run run nothing here.
            let mut previously_failed = HashSet::new();
            for h in &batch {
                let state = self.hosts.entry(h.clone()).or_default();
                state.flags = HostFlags {
                    failed: state.failed_in_run,
                    ..HostFlags::default()
                };
                if state.failed_in_run {
                    previously_failed.insert(h.clone());
                    self.failed_carried = true;
                }
            }
            if count > 1 {
                self.sink.emit(Event::BatchStart {
                    play: name.clone(),
                    index: index + 1,
                    count,
                    hosts: batch.clone(),
                });
            }
            let ctx = PlayCtx {
                play,
                play_vars: Arc::new(play.vars.clone()),
                role_defaults: Arc::new(play.role_exports.defaults.clone()),
                role_vars: Arc::new(play.role_exports.vars.clone()),
                vars_files: vars_files.clone(),
                play_hosts: hosts_all.clone(),
                batch: batch.clone(),
            };
            if index == 0 {
                rolling = self.rolling_for(&ctx, &hosts).await?;
            }
            if let Some(why) = window_refuses(window_end, rolling.as_ref(), &durations) {
                let remaining: Vec<String> = batches_left(&hosts, &ctx.batch);
                self.sink.emit(Event::PlayAborted {
                    reason: format!(
                        "{why}: batch {}/{count} not started, {} host(s) remain; continue in the \
                         next window with --resume (or --limit {})",
                        index + 1,
                        remaining.len(),
                        remaining.join(",")
                    ),
                });
                self.interrupted = true;
                break;
            }
            let batch_started = tokio::time::Instant::now();
            let gathers = (play.gather_facts)
                .unwrap_or(self.opts.gathering != crate::config::Gathering::Explicit);
            if gathers {
                self.gather_facts(&ctx).await;
            }
            for section in Section::ALL {
                let mut active = self.active(&batch);
                // Out of rotation for `tasks`, unless --start-at-task skips
                // them all (it is in post_tasks).
                let out_of_rotation =
                    section == Section::Tasks && !self.starts_after(play.section(section));
                if out_of_rotation && let Some(rolling) = rolling.as_mut() {
                    broken = self.sink.broken();
                    if broken.is_some() {
                        break;
                    }
                    active = self.take_out(&ctx, rolling, active).await;
                }
                let survivors = (self.run_list(&ctx, play.section(section), active.clone())).await;
                // force_handlers: the hosts that failed in the section too.
                let force = play.force_handlers || self.opts.force_handlers;
                let notified = if force { &active } else { &survivors };
                self.flush_handlers(&ctx, notified, force).await;
                // Hosts out of rotation go back even when the play stops
                // (but not unjournaled).
                if out_of_rotation && let Some(rolling) = rolling.as_mut() {
                    broken = self.sink.broken();
                    if broken.is_some() {
                        break;
                    }
                    self.put_back(&ctx, rolling).await;
                    self.roll_back(&ctx, rolling).await;
                }
                if self.end_play {
                    break;
                }
            }
            if broken.is_some() {
                break;
            }
            // A batch cut short (max_fail_percentage, meta: end_play) left its
            // other hosts somewhere in the middle: none of them completed
            // the play, so --resume runs them again.
            let completed = match self.end_play {
                true => Vec::new(),
                false => (batch.iter())
                    .filter(|h| {
                        self.flags_of(h)
                            .is_some_and(|f| !f.failed && !f.unreachable)
                    })
                    .cloned()
                    .collect(),
            };
            self.sink.emit(Event::HostsCompleted {
                play: key.to_string(),
                hosts: completed,
            });
            self.remember_failures(&batch);
            if self.end_play {
                break;
            }
            durations.push(batch_started.elapsed());
            if let Some(reason) = self.batch_verdict(play, &batch, &previously_failed) {
                let reason =
                    format!("{reason}; once fixed, run the same command with --resume to continue");
                self.sink.emit(Event::PlayAborted { reason });
                self.break_run = true;
                break;
            }
        }
        if let Some(rolling) = &rolling {
            rolling.lifecycle.report_out_of_rotation();
        }
        // A write that failed in the last step still means an incomplete journal.
        match broken.or_else(|| self.sink.broken()) {
            Some(why) => Err(crate::error::Error::Internal(Diagnostic::new(why))),
            None => Ok(()),
        }
    }

    /// Ansible's implicit "Gathering Facts" task: `setup` (with the play's
    /// `gather_subset`) on the batch's hosts before anything else, tagged
    /// `always` so that `--tags` keeps it, counted like any task.
    async fn gather_facts(&mut self, ctx: &PlayCtx<'_>) {
        let mut task = Task::synthetic("Gathering Facts", ctx.play.location.clone());
        let mut args = Vars::new();
        if let Some(subset) = &ctx.play.gather_subset {
            args.insert("gather_subset".into(), subset.clone());
        }
        task.action = Action::Module {
            module: "setup".into(),
            args,
        };
        task.tags = vec!["always".into()];
        task.become_enabled = ctx.play.become_enabled;
        task.become_user = ctx.play.become_user.clone();
        if !task.selected_by(&self.opts.tags, &self.opts.skip_tags) {
            return;
        }
        let mut hosts = self.active(&ctx.batch);
        if self.opts.gathering == crate::config::Gathering::Smart {
            // Hosts whose fact cache holds a gathering (until clear_facts).
            hosts.retain(|h| {
                !(self.hosts.get(h)).is_some_and(|s| s.facts.cache.contains_key("module_setup"))
            });
        }
        if !hosts.is_empty() {
            self.run_module_task(ctx, &task, &hosts, false).await;
        }
    }

    /// With `--resume`, the play's hosts minus those the last run
    /// completed (journaled again, for the next resume); says where the
    /// last run left each host that still runs.
    fn skip_completed(&self, key: &str, hosts: Vec<String>) -> Vec<String> {
        let Some(resume) = &self.opts.resume else {
            return hosts;
        };
        let done = resume.completed(key);
        let (skipped, left): (Vec<String>, Vec<String>) =
            hosts.into_iter().partition(|h| done.contains(h));
        if !skipped.is_empty() {
            self.sink.emit(Event::Warning {
                message: format!(
                    "--resume: skipping {} host(s) that completed this play in {}: {}",
                    skipped.len(),
                    resume.journal.display(),
                    skipped.join(", ")
                ),
            });
            self.sink.emit(Event::HostsCompleted {
                play: key.to_string(),
                hosts: skipped,
            });
        }
        for host in &left {
            if let Some(last) = resume.last_seen(host) {
                let rotation = if last.in_rotation {
                    "in rotation"
                } else {
                    "out of rotation"
                };
                self.sink.emit(Event::Warning {
                    message: format!(
                        "--resume: the last run left {host} {} ({rotation}): {}; it runs again, \
                         starting from what the load balancer reports",
                        last.phase.label(),
                        last.detail
                    ),
                });
            }
        }
        left
    }

    /// Hosts of `batch` that failed run nothing more in this run.
    fn remember_failures(&mut self, batch: &[String]) {
        for h in batch {
            if let Some(state) = self.hosts.get_mut(h) {
                let flags = state.flags;
                state.failed_in_run |= flags.failed || flags.unreachable || flags.fatal;
            }
        }
    }

    /// Why the run must stop after this batch, if it must: the batch's
    /// new failures (`previously_failed` hosts ran nothing, hosts failed by
    /// `any_errors_fatal` count) against `max_fail_percentage` and the
    /// batch's size.
    fn batch_verdict(
        &self,
        play: &Play,
        batch: &[String],
        previously_failed: &HashSet<String>,
    ) -> Option<String> {
        let failed = batch
            .iter()
            .filter(|h| !previously_failed.contains(*h))
            .filter(|h| (self.flags_of(h)).is_some_and(|f| f.failed || f.unreachable || f.fatal))
            .count();
        if failed == 0 {
            return None;
        }
        if let Some(max) = play.max_fail_percentage
            && plan::exceeds_max_fail(failed, batch.len(), max)
        {
            return Some(format!(
                "{failed} of {} hosts in the batch failed, exceeding max_fail_percentage {max}%",
                batch.len()
            ));
        }
        if failed == batch.len() {
            return Some("every host in the batch failed".into());
        }
        None
    }

    fn active(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| self.flags_of(h).is_some_and(HostFlags::running))
            .cloned()
            .collect()
    }

    /// The hosts of the play not failed so far (hosts of later batches have
    /// not run yet).
    fn remaining(&self, hosts: &[String]) -> Vec<String> {
        hosts
            .iter()
            .filter(|h| self.flags_of(h).is_none_or(HostFlags::running))
            .cloned()
            .collect()
    }

    fn load_vars_files(&self, play: &Play) -> Result<Vars, crate::error::Error> {
        let mut vars = Vars::new();
        let scope = self.play_scope(play, &Arc::new(Vars::new()));
        for entry in &play.vars_files {
            let mut found = None;
            for candidate in &entry.candidates {
                let name = self.templar.render_str(candidate, &scope).map_err(|e| {
                    Diagnostic::new(format!("vars_files entry '{candidate}': {e}"))
                        .with_location(entry.location.clone())
                })?;
                let path = play.base_dir.join(&name);
                if path.exists() {
                    found = Some(path);
                    break;
                }
            }
            let path = found.ok_or_else(|| {
                Diagnostic::new(format!(
                    "vars file not found: {}",
                    entry.candidates.join(" or ")
                ))
                .with_location(entry.location.clone())
                .with_help("paths are relative to the playbook's directory")
            })?;
            let node = crate::playbook::read_yaml(&path).map_err(|d| undecryptable(&path, d))?;
            match node.to_json() {
                Json::Object(map) => vars.extend(map),
                Json::Null => {}
                _ => {
                    return Err(Diagnostic::at(
                        &path,
                        node.span,
                        "a vars file must hold a mapping of variables",
                    )
                    .into());
                }
            }
        }
        Ok(vars)
    }

    /// Runs tasks on `hosts`; returns the hosts that got through without
    /// failing (ended or unreachable hosts are not returned either).
    fn run_list<'a>(
        &'a mut self,
        ctx: &'a PlayCtx<'a>,
        tasks: &'a [Task],
        hosts: Vec<String>,
    ) -> futures::future::LocalBoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut hosts = hosts;
            // Hosts that enter failed (an `always:`, forced handlers) carry
            // on; others stop once failed, even by another host's failure
            // (any_errors_fatal).
            let failed_on_entry: HashSet<String> = (hosts.iter())
                .filter(|h| self.flags_of(h).is_some_and(|f| f.failed))
                .cloned()
                .collect();
            for task in tasks.iter().filter(|t| !t.role_repeat) {
                hosts.retain(|h| {
                    self.flags_of(h).is_some_and(|f| {
                        !f.unreachable && !f.ended && (!f.failed || failed_on_entry.contains(h))
                    })
                });
                if hosts.is_empty() || self.end_play {
                    break;
                }
                if self.before_start(task) {
                    continue;
                }
                hosts = match &task.action {
                    Action::Block {
                        block,
                        rescue,
                        always,
                    } => self.run_block(ctx, block, rescue, always, hosts).await,
                    // Tags on an include select the include itself; its
                    // tasks are selected by their own.
                    Action::Include { .. } => {
                        if !task.selected_by(&self.opts.tags, &self.opts.skip_tags)
                            || !self.step_allows(task, false).await
                        {
                            continue;
                        }
                        self.run_include(ctx, task, hosts).await
                    }
                    Action::Meta(meta) => self.run_meta(ctx, task, *meta, hosts).await,
                    Action::Module { .. } => {
                        if !task.selected_by(&self.opts.tags, &self.opts.skip_tags) {
                            continue;
                        }
                        self.run_module_task(ctx, task, &hosts, false).await
                    }
                };
            }
            hosts
        })
    }

    /// `--start-at-task`: whether `task` comes before the start (and is
    /// skipped). A block is opened: the start may be inside.
    fn before_start(&mut self, task: &Task) -> bool {
        let Some(start) = &self.start_at else {
            return false;
        };
        if matches!(task.action, Action::Block { .. }) {
            return false;
        }
        if task.selected_by(&self.opts.tags, &self.opts.skip_tags) && start.matches(task) {
            self.start_at = None;
            return false;
        }
        true
    }

    /// `--start-at-task` is still ahead and not among `tasks`: they all
    /// will be skipped.
    fn starts_after(&self, tasks: &[Task]) -> bool {
        (self.start_at.as_ref())
            .is_some_and(|s| !s.found_in_tasks(tasks, &self.opts.tags, &self.opts.skip_tags))
    }

    /// `--step`: whether the operator lets `task` run (always, without
    /// `--step` or once told to continue).
    async fn step_allows(&mut self, task: &Task, handler: bool) -> bool {
        let Some(gate) = self.opts.step.clone().filter(|_| self.stepping) else {
            return true;
        };
        let kind = if handler { "HANDLER" } else { "TASK" };
        let what = format!("{kind}: {}", task.display_name());
        let asked = tokio::task::spawn_blocking(move || gate.ask(&what)).await;
        match asked.unwrap_or(step::Answer::No) {
            step::Answer::Yes => true,
            step::Answer::Continue => {
                self.stepping = false;
                true
            }
            step::Answer::No => false,
        }
    }

    async fn run_block(
        &mut self,
        ctx: &PlayCtx<'_>,
        block: &[Task],
        rescue: &[Task],
        always: &[Task],
        entered: Vec<String>,
    ) -> Vec<String> {
        // A failure the rescue may forgive does not count against
        // max_fail_percentage yet.
        let rescuable = usize::from(!rescue.is_empty());
        self.rescuing += rescuable;
        let survivors = self.run_list(ctx, block, entered.clone()).await;
        self.rescuing -= rescuable;
        let failed: Vec<String> = entered
            .iter()
            .filter(|h| {
                !survivors.contains(h)
                    && self.flags_of(h).is_some_and(|f| f.failed && !f.unreachable)
            })
            .cloned()
            .collect();
        let mut still_failed = failed.clone();
        // The failures were counted as rescued already (`record`); a rescue
        // task that fails counts on its own.
        if !rescue.is_empty() && !failed.is_empty() {
            for h in &failed {
                self.set_failed(h, false);
            }
            let rescued = self.run_list(ctx, rescue, failed.clone()).await;
            still_failed.retain(|h| !rescued.contains(h));
        }
        let always_hosts: Vec<String> = entered
            .iter()
            .filter(|h| self.flags_of(h).is_some_and(|f| !f.unreachable && !f.ended))
            .cloned()
            .collect();
        let after = if always.is_empty() {
            always_hosts
        } else {
            self.run_list(ctx, always, always_hosts).await
        };
        after
            .into_iter()
            .filter(|h| !still_failed.contains(h))
            .collect()
    }

    /// `include_tasks`: per host and loop item, its `when`, then its file
    /// (a templated name rendered, and loaded, now). Hosts that include the
    /// same file with the same item run its tasks together, in the order
    /// Ansible's linear strategy runs them: by host, then by item.
    async fn run_include(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        hosts: Vec<String>,
    ) -> Vec<String> {
        let Action::Include {
            loaded, context, ..
        } = &task.action
        else {
            return hosts;
        };
        let mut groups: Vec<(PathBuf, Vars, Vec<String>)> = Vec::new();
        let env = self.task_env(ctx);
        self.include_start(task);
        for host in &hosts {
            let scope = self.scope_in(&env, host, Some(task));
            let entries = match self.include_entries(task, &scope) {
                Ok(entries) => entries,
                Err(message) => {
                    self.include_result(ctx, task, host, Self::include_failure(task, message));
                    continue;
                }
            };
            // Nothing to include (its `when` is false): skipped, as Ansible counts it.
            if entries.is_empty() {
                let skipped = crate::modules::TaskResult::skipped("Conditional result was False");
                self.include_result(ctx, task, host, skipped);
            }
            for (path, item) in entries {
                match groups.iter_mut().find(|(p, i, _)| *p == path && *i == item) {
                    Some((_, _, members)) => members.push(host.clone()),
                    None => groups.push((path, item, vec![host.clone()])),
                }
            }
        }
        let mut loads: HashMap<PathBuf, Result<Vec<Task>, Diagnostic>> = HashMap::new();
        for (path, item, members) in groups {
            let members: Vec<String> = members.into_iter().filter(|h| self.live(h)).collect();
            if members.is_empty() || self.end_play {
                continue;
            }
            let tasks = match loaded {
                Some((_, tasks)) => Ok(tasks.clone()),
                None => (loads.entry(path.clone()))
                    .or_insert_with(|| context.load(&path))
                    .clone(),
            };
            let mut tasks = match tasks {
                Ok(tasks) => tasks,
                Err(e) => {
                    self.include_start(task);
                    for host in &members {
                        let failure = Self::include_failure(task, e.to_string());
                        self.include_result(ctx, task, host, failure);
                    }
                    continue;
                }
            };
            for host in &members {
                // Ansible counts each include itself as ok on its host.
                if let Some(s) = self.stats_mut(host) {
                    s.ok += 1;
                }
                self.sink.emit(Event::Included {
                    host: host.clone(),
                    file: path.display().to_string(),
                });
            }
            // The item is seen by every included task (and nested include).
            let mut vars = (*task.include_loop).clone();
            vars.extend(item);
            let vars = Arc::new(vars);
            for inner in &mut tasks {
                inner.set_include_loop(&vars);
            }
            self.run_list(ctx, &tasks, members).await;
        }
        hosts.into_iter().filter(|h| self.live(h)).collect()
    }

    /// The files one host includes, each with its loop variables (none
    /// without a loop): one per item whose `when` holds.
    fn include_entries(&self, task: &Task, scope: &Scope) -> Result<Vec<(PathBuf, Vars)>, String> {
        let Action::Include {
            file,
            loaded,
            context,
            ..
        } = &task.action
        else {
            return Ok(Vec::new());
        };
        let items: Vec<Vars> = match &task.loop_items {
            None => vec![Vars::new()],
            Some(raw) => match self.templar.render_value(raw, &scope.clone().into_value()) {
                Ok(Json::Array(items)) => (items.into_iter().enumerate())
                    .map(|(index, item)| {
                        let mut vars = Vars::new();
                        vars.insert(task.loop_var.clone(), item);
                        if let Some(index_var) = &task.index_var {
                            vars.insert(index_var.clone(), Json::from(index));
                        }
                        vars
                    })
                    .collect(),
                Ok(other) => {
                    return Err(format!(
                        "'loop' needs a list, got {}",
                        crate::core::display_text(&other)
                    ));
                }
                Err(e) => return Err(e.to_string()),
            },
        };
        let mut entries = Vec::new();
        for item in items {
            let scope = scope.with_data(item.clone()).into_value();
            if !task::conditions_hold(&self.templar, &task.when, &scope)
                .map_err(|e| e.to_string())?
            {
                continue;
            }
            let path = match loaded {
                Some((path, _)) => path.clone(),
                None => context.resolve(
                    &(self.templar.render_str(file, &scope))
                        .map_err(|e| format!("the file name '{file}': {e}"))?,
                ),
            };
            entries.push((path, item));
        }
        Ok(entries)
    }

    /// The include's `TASK [...]` line.
    fn include_start(&self, task: &Task) {
        self.sink.emit(Event::TaskStart {
            name: task.display_name(),
            location: Some(task.location.to_string()),
            handler: false,
        });
    }

    /// A host's include failed (its loop, `when`, file name or file): the
    /// failure is the include's, at its line.
    fn include_failure(task: &Task, message: String) -> crate::modules::TaskResult {
        let what = match &task.action {
            Action::Include { role: Some(_), .. } => "include_role",
            _ => "include_tasks",
        };
        crate::modules::TaskResult::failed(format!("{what} at {}: {message}", task.location))
    }

    /// A host's result of the include itself (failed or skipped).
    fn include_result(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        host: &str,
        result: crate::modules::TaskResult,
    ) {
        self.sink.emit(Event::HostResult(crate::events::HostResult {
            host: host.to_string(),
            status: result.status(),
            item: None,
            result: result.to_json(),
            ignored: task.ignore_errors,
            delegated_to: None,
            show_result: false,
            show_diff: task.diff.unwrap_or(self.opts.diff),
        }));
        self.record(ctx, host, task, &result, None);
    }

    /// Still running in this batch: not failed, unreachable or ended.
    fn live(&self, host: &str) -> bool {
        self.flags_of(host)
            .is_some_and(|f| !f.failed && !f.unreachable && !f.ended)
    }

    async fn run_meta(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        meta: MetaAction,
        hosts: Vec<String>,
    ) -> Vec<String> {
        match meta {
            MetaAction::FlushHandlers => {
                self.flush_handlers(ctx, &hosts, false).await;
                self.active(&hosts)
            }
            MetaAction::EndPlay => {
                self.end_play = true;
                Vec::new()
            }
            MetaAction::EndBatch | MetaAction::EndHost => {
                let mut ending = Vec::new();
                let mut rest = Vec::new();
                for host in hosts {
                    let scope = self.scope(ctx, &host, task).into_value();
                    match task::conditions_hold(&self.templar, &task.when, &scope) {
                        Ok(true) => ending.push(host),
                        _ => rest.push(host),
                    }
                }
                if meta == MetaAction::EndBatch && !ending.is_empty() {
                    ending.append(&mut rest);
                }
                for h in &ending {
                    if let Some(f) = self.flags_mut(h) {
                        f.ended = true;
                    }
                }
                rest
            }
            MetaAction::ClearHostErrors => {
                for h in &ctx.batch {
                    if let Some(f) = self.flags_mut(h) {
                        f.failed = false;
                    }
                }
                self.active(&ctx.batch)
            }
            // As Ansible: the fact cache of every host of the play goes,
            // when the task's `when` holds (on the first host it runs for).
            MetaAction::ClearFacts => {
                let holds = hosts.first().is_some_and(|h| {
                    let scope = self.scope(ctx, h, task).into_value();
                    task::conditions_hold(&self.templar, &task.when, &scope).unwrap_or(false)
                });
                if holds {
                    for h in &ctx.play_hosts {
                        if let Some(state) = self.hosts.get_mut(h) {
                            state.facts.clear_cache();
                        }
                    }
                }
                hosts
            }
            // The next task on the host logs in again (what a changed
            // group membership or sshd setting needs). As in Ansible, its
            // `when` is not evaluated: a warning says so.
            MetaAction::ResetConnection => {
                if !task.when.is_empty() {
                    self.sink.emit(Event::Warning {
                        message: "reset_connection task does not support when conditional".into(),
                    });
                }
                for host in &hosts {
                    self.connection_for(host).reset().await;
                }
                hosts
            }
            MetaAction::Noop => hosts,
        }
    }

    /// Runs the handlers notified on `hosts`; with `force`, on hosts that
    /// failed too.
    async fn flush_handlers(&mut self, ctx: &PlayCtx<'_>, hosts: &[String], force: bool) {
        for (index, handler) in ctx.play.handlers.iter().enumerate() {
            let hosts: Vec<String> = hosts
                .iter()
                .filter(|h| {
                    self.hosts
                        .get(*h)
                        .is_some_and(|s| s.notified.contains(&index))
                })
                .filter(|h| {
                    self.flags_of(h).is_some_and(|f| {
                        f.running() || (force && f.failed && !f.unreachable && !f.ended)
                    })
                })
                .cloned()
                .collect();
            if hosts.is_empty() {
                continue;
            }
            for h in &hosts {
                if let Some(state) = self.hosts.get_mut(h) {
                    state.notified.remove(&index);
                }
            }
            match &handler.action {
                Action::Module { .. } => {
                    self.run_module_task(ctx, handler, &hosts, true).await;
                }
                _ => {
                    self.run_list(ctx, std::slice::from_ref(handler), hosts)
                        .await;
                }
            }
        }
    }

    /// Marks handlers notified by a changed task (by name or `listen` topic).
    fn notify(&mut self, ctx: &PlayCtx<'_>, host: &str, names: &[String]) {
        for name in names {
            let mut matched = false;
            for (index, handler) in ctx.play.handlers.iter().enumerate() {
                if handler.answers_to(name) {
                    self.hosts
                        .entry(host.to_string())
                        .or_default()
                        .notified
                        .insert(index);
                    matched = true;
                }
            }
            if !matched {
                self.sink.emit(Event::Warning {
                    message: format!("the handler '{name}' is notified but no handler has that name or listens to it"),
                });
            }
        }
    }

    fn flags_of(&self, host: &str) -> Option<&HostFlags> {
        self.hosts.get(host).map(|s| &s.flags)
    }

    fn flags_mut(&mut self, host: &str) -> Option<&mut HostFlags> {
        self.hosts.get_mut(host).map(|s| &mut s.flags)
    }

    fn stats_mut(&mut self, host: &str) -> Option<&mut HostStats> {
        self.hosts.get_mut(host).map(|s| &mut s.stats)
    }

    /// Each host's facts, for the scopes of one task (hosts without any
    /// are left out, as `hostvars` knows only hosts with variables).
    fn facts_by_host(&self) -> HashMap<String, Facts> {
        (self.hosts.iter())
            .filter(|(_, s)| !s.facts.is_empty())
            .map(|(h, s)| (h.clone(), s.facts.clone()))
            .collect()
    }

    fn set_failed(&mut self, host: &str, failed: bool) {
        if let Some(f) = self.flags_mut(host) {
            f.failed = failed;
        }
    }

    /// The variable scope of `host` for `task` (builds the task's shared
    /// part too; use [`Self::scope_in`] when scoping many hosts).
    fn scope(&self, ctx: &PlayCtx<'_>, host: &str, task: &Task) -> Scope {
        self.scope_in(&self.task_env(ctx), host, Some(task))
    }

    /// What every host's scope shares during one task: the play-level
    /// magic variables and a lazy `hostvars`. Built once per task, so
    /// scoping n hosts costs O(n), not O(n²).
    fn task_env(&self, ctx: &PlayCtx<'_>) -> TaskEnv {
        let magic = magic::play(&magic::PlayFacts {
            groups: &self.groups,
            check: self.opts.check,
            diff: self.opts.diff,
            verbosity: self.opts.verbosity,
            play_hosts: &ctx.play_hosts,
            active: &self.active(&ctx.batch),
            remaining: &self.remaining(&ctx.play_hosts),
            play_name: &ctx.play.name,
            playbook_dir: &self.playbook_dir.display().to_string(),
        });
        let base = ScopeBase {
            templar: self.templar.clone(),
            inventory: self.inventory.clone(),
            inventory_vars: self.inventory_vars.clone(),
            play_vars: ctx.play_vars.clone(),
            role_defaults: ctx.role_defaults.clone(),
            role_vars: ctx.role_vars.clone(),
            vars_files: ctx.vars_files.clone(),
            facts: self.facts_by_host(),
            extra: self.extra.clone(),
            play_magic: Arc::new(magic),
        };
        let base = Arc::new(base);
        let lazy = base.clone();
        let hostvars = Hostvars {
            order: self.inventory.hosts().map(String::from).collect(),
            build: Box::new(move |h: &str| {
                (lazy.inventory.contains_host(h) || lazy.facts.contains_key(h))
                    .then(|| lazy.scope(h, None, None))
            }),
        };
        TaskEnv {
            base,
            hostvars: minijinja::Value::from_object(hostvars),
        }
    }

    fn scope_in(&self, env: &TaskEnv, host: &str, task: Option<&Task>) -> Scope {
        env.base.scope(host, task, Some(env.hostvars.clone()))
    }
}

/// The shared part of every host's scope during one task.
struct TaskEnv {
    base: Arc<ScopeBase>,
    hostvars: minijinja::Value,
}

/// Everything a host's scope is built from, owned so `hostvars` can build
/// scopes lazily from inside a template.
struct ScopeBase {
    templar: Arc<Templar>,
    inventory: Arc<Inventory>,
    inventory_vars: Arc<HashMap<String, Arc<Vars>>>,
    play_vars: Arc<Vars>,
    role_defaults: Arc<Vars>,
    role_vars: Arc<Vars>,
    vars_files: Arc<Vars>,
    facts: HashMap<String, Facts>,
    extra: Arc<Vars>,
    play_magic: Arc<Vars>,
}

impl ScopeBase {
    /// Layers, lowest first (Ansible's ladder): role defaults < inventory
    /// < fact cache < play vars < vars_files < role vars < task vars <
    /// include_vars < facts/registered < role params < include loop < extra
    /// vars < magic variables. The play's roles export their defaults and vars to every
    /// task; a role's task sees its own (and its dependency chain's) above
    /// those.
    fn scope(&self, host: &str, task: Option<&Task>, hostvars: Option<minijinja::Value>) -> Scope {
        let role = task.and_then(|t| t.role.as_deref());
        let facts = self.facts.get(host).cloned().unwrap_or_default();
        let mut layers: Vec<Layer> = vec![self.role_defaults.clone().into()];
        layers.extend(role.map(|r| r.defaults.clone().into()));
        layers.extend([
            self.inventory_vars
                .get(host)
                .cloned()
                .unwrap_or_else(|| Arc::new(self.inventory.host_vars(host)))
                .into(),
            facts.cache_layer(),
            self.play_vars.clone().into(),
            self.vars_files.clone().into(),
            self.role_vars.clone().into(),
        ]);
        layers.extend(role.map(|r| r.vars.clone().into()));
        if let Some(task) = task
            && !task.vars.is_empty()
        {
            layers.push(Arc::new(task.vars.clone()).into());
        }
        layers.extend(facts.layers());
        layers.extend(role.map(|r| r.params.clone().into()));
        // An include's loop variables rank as include params, above facts.
        if let Some(task) = task
            && !task.include_loop.is_empty()
        {
            layers.push(Layer::data(task.include_loop.clone()));
        }
        layers.push(self.extra.clone().into());
        layers.push(self.play_magic.clone().into());
        let mut magic = magic::host(host, self.inventory.group_names(host));
        magic.extend(role.map(magic::role).unwrap_or_default());
        Scope::new(self.templar.clone(), layers, magic, hostvars)
    }
}

/// A shuffle seed that differs between runs.
fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

/// A vaulted vars file that cannot be decrypted stops the run with exit 1,
/// as ansible-playbook's (one that cannot be parsed exits 4).
fn undecryptable(path: &std::path::Path, d: Diagnostic) -> crate::error::Error {
    let vaulted = std::fs::read(path).is_ok_and(|data| crate::vault::format::is_encrypted(&data));
    if vaulted && d.location.is_none() {
        crate::error::Error::Internal(d)
    } else {
        crate::error::Error::Load(d)
    }
}
