//! One task on one host: `when`, `loop`, argument rendering, the module call,
//! `until` retries, `changed_when`/`failed_when`, `register`, `no_log`.

use super::scope::{Facts, Scope, Vars};
use super::{Engine, PlayCtx};
use crate::connection::Connection;
use crate::connection::environment::WithEnvironment;
use crate::events::{Event, HostResult, Sink};
use crate::modules::{self, ModuleContext, TaskResult, spec};
use crate::playbook::{Action, Task};
use crate::template::{Templar, TemplateError};
use futures::StreamExt;
use serde_json::Value as Json;
use std::sync::Arc;

const CENSORED: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// All conditions of a `when` list hold.
pub fn conditions_hold(
    templar: &Templar,
    conditions: &[String],
    scope: &minijinja::Value,
) -> Result<bool, TemplateError> {
    for condition in conditions {
        if !templar.eval_bool(condition, scope)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What one host's run of a task produced.
struct HostOutcome {
    host: String,
    result: TaskResult,
    /// Variables to add to the host's facts (set_fact, register, the
    /// fact cache).
    facts: Facts,
    /// With `delegate_facts`: the delegated host and the facts it gets.
    delegated: Option<(String, Facts)>,
}

/// Everything a host's run needs, owned so runs can proceed concurrently.
struct HostRun<'a> {
    engine: &'a Engine,
    task: &'a Task,
    module: &'a str,
    args: &'a Vars,
    host: String,
    scope: Scope,
    conn: Arc<dyn Connection>,
    /// `delegate_facts`: the delegated host that gets the task's facts.
    facts_to: Option<String>,
    sink: Sink,
    check_mode: bool,
    /// `diff` (the task keyword, else `--diff`): modules report their
    /// changes and the console shows them.
    diff: bool,
    /// Where relative `src` of copy/template resolve from.
    base_dir: &'a std::path::Path,
}

impl Engine {
    /// Runs a module task on `hosts`; returns the hosts that did not fail.
    pub(super) async fn run_module_task(
        &mut self,
        ctx: &PlayCtx<'_>,
        task: &Task,
        hosts: &[String],
        handler: bool,
    ) -> Vec<String> {
        let Action::Module { module, args } = &task.action else {
            return hosts.to_vec();
        };
        if !self.step_allows(task, handler).await {
            return hosts.to_vec();
        }
        self.sink.emit(Event::TaskStart {
            name: task.display_name(),
            location: Some(task.location.to_string()),
            handler,
        });
        let targets: &[String] = if task.run_once {
            &hosts[..hosts.len().min(1)]
        } else {
            hosts
        };
        let env = self.task_env(ctx);
        let runs: Vec<HostRun<'_>> = targets
            .iter()
            .map(|host| HostRun {
                engine: self,
                task,
                module,
                args,
                host: host.clone(),
                scope: self.scope_in(&env, host, Some(task)),
                conn: self.delegate_connection(ctx, host, task),
                facts_to: (task.delegate_facts)
                    .then(|| self.delegate_target(ctx, host, task))
                    .flatten(),
                sink: self.sink.clone(),
                check_mode: task.check_mode.unwrap_or(self.opts.check),
                diff: task.diff.unwrap_or(self.opts.diff),
                base_dir: &ctx.play.base_dir,
            })
            .collect();
        // `throttle` only ever lowers --forks.
        let forks = (self.opts.forks.max(1)).min(task.throttle.map_or(usize::MAX, |t| t as usize));
        let mut outcomes: Vec<HostOutcome> = futures::stream::iter(runs)
            .map(HostRun::execute)
            .buffer_unordered(forks)
            .collect()
            .await;
        outcomes.sort_by_key(|o| hosts.iter().position(|h| *h == o.host));
        // Lookups with `errors=warn` that failed while the task rendered.
        for message in self.templar.take_warnings() {
            self.sink.emit(Event::Warning { message });
        }

        // run_once: the result is counted on the host that ran it only, as
        // in Ansible; the others get its facts and registered result, and
        // fail with it.
        let shared = (task.run_once.then(|| outcomes.first()).flatten()).map(|first| {
            let r = &first.result;
            (
                first.facts.clone(),
                r.failed && !task.ignore_errors || r.unreachable,
            )
        });
        let mut survivors = Vec::new();
        let mut any_failed = false;
        for mut outcome in outcomes {
            if let Some((target, facts)) = outcome.delegated.take() {
                (self.hosts.entry(target).or_default().facts).merge(facts);
            }
            if self.record(
                ctx,
                &outcome.host,
                task,
                &outcome.result,
                Some(outcome.facts),
            ) {
                survivors.push(outcome.host);
            } else {
                any_failed = true;
            }
        }
        if let Some((facts, failed)) = shared {
            for host in hosts.iter().skip(1) {
                let state = self.hosts.entry(host.clone()).or_default();
                state.facts.merge(facts.clone());
                state.flags.failed |= failed;
                if !failed {
                    survivors.push(host.clone());
                }
            }
        }
        // any_errors_fatal (and run_once, as Ansible's linear strategy): a
        // failure fails every other host of the batch where it stands, so a
        // block's rescue or always still runs for it.
        if any_failed && (task.any_errors_fatal || task.run_once) && !task.ignore_errors {
            let others = self.active(&ctx.batch);
            if !others.is_empty() {
                self.sink.emit(Event::Warning {
                    message: format!(
                        "any_errors_fatal: '{}' failed, failing {}",
                        task.display_name(),
                        others.join(", ")
                    ),
                });
            }
            for h in others {
                if let Some(f) = self.flags_mut(&h) {
                    (f.failed, f.fatal) = (true, true);
                }
            }
            return Vec::new();
        }
        if any_failed && let Some(reason) = self.too_many_failed(ctx) {
            self.sink.emit(Event::PlayAborted { reason });
            (self.end_play, self.break_run) = (true, true);
            return Vec::new();
        }
        survivors
    }

    /// `max_fail_percentage`, checked after each task as Ansible's linear
    /// strategy does: the batch's failures so far (not those a `rescue`
    /// may still forgive, nor hosts that failed before this batch).
    fn too_many_failed(&self, ctx: &PlayCtx<'_>) -> Option<String> {
        let max = ctx.play.max_fail_percentage?;
        if self.rescuing > 0 {
            return None;
        }
        let failed = (ctx.batch.iter())
            .filter_map(|h| self.hosts.get(h))
            .filter(|s| s.flags.failed && !s.failed_in_run)
            .count();
        crate::plan::exceeds_max_fail(failed, ctx.batch.len(), max).then(|| {
            format!(
                "{failed} of {} hosts in the batch failed, exceeding max_fail_percentage {max}%",
                ctx.batch.len()
            )
        })
    }

    /// Updates facts, stats and flags from a host's result; true when the
    /// host carries on.
    pub(super) fn record(
        &mut self,
        ctx: &PlayCtx<'_>,
        host: &str,
        task: &Task,
        result: &TaskResult,
        facts: Option<Facts>,
    ) -> bool {
        let rescuing = self.rescuing > 0;
        let state = self.hosts.entry(host.to_string()).or_default();
        if let Some(new) = facts.filter(|f| !f.is_empty()) {
            state.facts.merge(new);
        }
        let (stats, flags) = (&mut state.stats, &mut state.flags);
        if result.unreachable && task.ignore_unreachable {
            stats.ok += 1;
            stats.ignored += 1;
            return true;
        }
        if result.unreachable {
            stats.unreachable += 1;
            flags.unreachable = true;
            return false;
        }
        if result.failed && !task.ignore_errors {
            flags.failed = true;
            // As Ansible: a failure a block's rescue takes over counts as
            // rescued when it happens (whatever the rescue does next), and
            // the rescue sees the task and its result.
            if rescuing {
                stats.rescued += 1;
                let mut failure = Vars::new();
                failure.insert("ansible_failed_task".into(), task.to_json());
                failure.insert("ansible_failed_result".into(), result.to_json());
                state.facts.merge(Facts {
                    data: Arc::new(failure),
                    ..Facts::default()
                });
            } else {
                stats.failed += 1;
            }
            return false;
        }
        if result.failed {
            stats.ignored += 1;
        }
        if result.skipped {
            stats.skipped += 1;
            return true;
        }
        stats.ok += 1;
        if result.changed {
            stats.changed += 1;
            self.notify(ctx, host, &task.notify);
        }
        true
    }

    /// The host `delegate_to` names for `host`, rendered.
    fn delegate_target(&self, ctx: &PlayCtx<'_>, host: &str, task: &Task) -> Option<String> {
        let scope = self.scope(ctx, host, task).into_value();
        self.delegate_target_in(task, &scope)
    }

    /// `delegate_to` rendered in `scope` (a loop item's, for
    /// `delegate_to: "{{ item }}"`).
    fn delegate_target_in(&self, task: &Task, scope: &minijinja::Value) -> Option<String> {
        let target = task.delegate_to.as_ref()?;
        Some(
            self.templar
                .render_str(target, scope)
                .unwrap_or_else(|_| target.clone()),
        )
    }

    fn delegate_connection(
        &self,
        ctx: &PlayCtx<'_>,
        host: &str,
        task: &Task,
    ) -> Arc<dyn Connection> {
        let target = self.delegate_target(ctx, host, task);
        self.connection_to(host, task, target.as_deref())
    }

    /// The connection a task of `host` runs on: the delegated host's (with
    /// its own inventory connection variables), or the host's own.
    fn connection_to(&self, host: &str, task: &Task, target: Option<&str>) -> Arc<dyn Connection> {
        match target {
            None if task.connection.as_deref() == Some("local") => self.local.clone(),
            None => self.with_become(host, task, self.connection_for(host)),
            Some("localhost" | "127.0.0.1" | "::1") => self.local.clone(),
            Some(target) => self.with_become(target, task, self.connection_for(target)),
        }
    }
}

impl HostRun<'_> {
    async fn execute(mut self) -> HostOutcome {
        let base = self.scope.clone();
        let result = match &self.task.loop_items {
            None => {
                let result = self.run_item(&base).await;
                self.emit(&result, None, &base);
                result
            }
            Some(raw) => self.run_loop(raw, &base).await,
        };
        let returned = self.returned_facts(&result, &base);
        let (mut facts, delegated) = match self.facts_to.take() {
            Some(target) => (Facts::default(), Some((target, returned))),
            None => (returned, None),
        };
        if let Some(name) = &self.task.register {
            Arc::make_mut(&mut facts.user).remove(name);
            Arc::make_mut(&mut facts.data).insert(name.clone(), result.to_json());
        }
        HostOutcome {
            host: self.host,
            result,
            facts,
            delegated,
        }
    }

    /// The facts a result's `ansible_facts` add, as Ansible files them
    /// (for a loop, each item's): a module's go to the fact cache;
    /// include_vars' are templates in their own layer; set_fact's are host
    /// variables (and, with `cacheable`, cached facts too).
    fn returned_facts(&self, result: &TaskResult, scope: &Scope) -> Facts {
        let items = match result.data.get("results") {
            Some(Json::Array(items)) => items.iter().collect(),
            _ => vec![&Json::Null],
        };
        let item_facts = items.into_iter().filter_map(|item| match item {
            Json::Null if !result.failed => result.data.get("ansible_facts"),
            Json::Object(item) if item.get("failed") != Some(&Json::Bool(true)) => {
                item.get("ansible_facts")
            }
            _ => None,
        });
        let mut facts = Facts::default();
        for new in item_facts.filter_map(Json::as_object) {
            facts.merge(self.facts_of_item(new, scope));
        }
        facts
    }

    /// The facts of one `ansible_facts` map. A set_fact value is data when
    /// its template reads data (a registered result, a loop item, another
    /// host's variables), so a host's output never becomes a template by
    /// passing through set_fact.
    fn facts_of_item(&self, new: &Vars, scope: &Scope) -> Facts {
        match self.module {
            "set_fact" => {}
            // Variables from include_vars files are written by users:
            // templates, rendered when used, in their own layer.
            "include_vars" => {
                return Facts {
                    included: Arc::new(new.clone()),
                    ..Facts::default()
                };
            }
            _ => return Facts::cached(new.clone()),
        }
        let (mut user, mut data) = (Vars::new(), Vars::new());
        for (name, value) in new {
            let written = (self.args.get(name)).is_some_and(|raw| !self.reads_data(raw, scope));
            let map = if written { &mut user } else { &mut data };
            map.insert(name.clone(), value.clone());
        }
        let mut facts = Facts {
            user: Arc::new(user),
            data: Arc::new(data),
            ..Facts::default()
        };
        if self.cacheable(scope) {
            facts.merge(Facts::cached(new.clone()));
        }
        facts
    }

    /// set_fact's `cacheable`, rendered.
    fn cacheable(&self, scope: &Scope) -> bool {
        match self.args.get("cacheable") {
            Some(Json::Bool(b)) => *b,
            Some(raw @ Json::String(_)) => (self.engine.templar)
                .render_value(raw, &scope.clone().into_value())
                .ok()
                .is_some_and(|v| match v {
                    Json::Bool(b) => b,
                    Json::String(s) => crate::core::parse_bool(&s).unwrap_or(false),
                    _ => false,
                }),
            _ => false,
        }
    }

    /// Whether a raw argument's templates read data (or cannot be read).
    fn reads_data(&self, raw: &Json, scope: &Scope) -> bool {
        let templar = &self.engine.templar;
        let reads = |name: &String| {
            name == "hostvars"
                || scope.is_data(name)
                || self.task.loop_items.is_some() && *name == self.task.loop_var
        };
        match raw {
            Json::String(s) => templar
                .referenced_variables(s, false)
                .map_or(true, |names| names.iter().any(reads)),
            Json::Array(items) => items.iter().any(|v| self.reads_data(v, scope)),
            Json::Object(map) => map.iter().any(|(k, v)| {
                self.reads_data(&Json::String(k.clone()), scope) || self.reads_data(v, scope)
            }),
            _ => false,
        }
    }

    async fn run_loop(&self, raw: &Json, base: &Scope) -> TaskResult {
        let templar = &self.engine.templar;
        let ctx = base.clone().into_value();
        let rendered = templar.render_value(raw, &ctx);
        // `with_<lookup>`: the rendered value holds the lookup's terms.
        let rendered = match &self.task.loop_lookup {
            Some(lookup) => {
                rendered.and_then(|terms| templar.query(lookup, terms, self.module, &ctx))
            }
            None => rendered,
        };
        let items = match rendered {
            Ok(Json::Array(items)) => items,
            Ok(other) => {
                let r = TaskResult::failed(format!(
                    "'loop' needs a list, got {}: {}",
                    json_type(&other),
                    crate::core::display_text(&other)
                ));
                self.emit(&r, None, base);
                return r;
            }
            Err(e) => {
                let r = self.template_failure(&e);
                self.emit(&r, None, base);
                return r;
            }
        };
        let mut results = Vec::new();
        let mut aggregate = TaskResult::ok();
        let mut all_skipped = !items.is_empty();
        for (index, item) in items.iter().enumerate() {
            let mut layer = Vars::new();
            layer.insert(self.task.loop_var.clone(), item.clone());
            if let Some(index_var) = &self.task.index_var {
                layer.insert(index_var.clone(), Json::from(index));
            }
            let scope = base.with_data(layer);
            let result = self.run_item(&scope).await;
            let label = match &self.task.loop_label {
                Some(label) => self
                    .engine
                    .templar
                    .render_str(label, &scope.clone().into_value())
                    .unwrap_or_else(|_| label.clone()),
                None => crate::core::display_text(item),
            };
            self.emit(&result, Some(label), &scope);
            aggregate.changed |= result.changed;
            aggregate.failed |= result.failed;
            aggregate.unreachable |= result.unreachable;
            all_skipped &= result.skipped;
            let mut json = result.to_json();
            if let Json::Object(map) = &mut json {
                map.insert(self.task.loop_var.clone(), item.clone());
                map.insert(
                    "ansible_loop_var".into(),
                    Json::String(self.task.loop_var.clone()),
                );
            }
            results.push(json);
            if result.unreachable {
                break;
            }
        }
        aggregate.skipped = all_skipped;
        if aggregate.failed {
            aggregate.msg = Some("One or more items failed".into());
            // The summary line shows the failure without repeating every item.
            self.emit(&aggregate, None, base);
        } else {
            aggregate.msg = Some("All items completed".into());
        }
        aggregate
            .data
            .insert("results".into(), Json::Array(results));
        aggregate
    }

    /// One module call (one loop item), with `when`, `until` and the
    /// `changed_when`/`failed_when` overrides.
    async fn run_item(&self, scope: &Scope) -> TaskResult {
        let templar = &self.engine.templar;
        let value = scope.clone().into_value();
        match conditions_hold(templar, &self.task.when, &value) {
            Ok(true) => {}
            Ok(false) => {
                let false_condition = self
                    .task
                    .when
                    .iter()
                    .find(|c| !templar.eval_bool(c, &value).unwrap_or(true));
                let mut r = TaskResult::skipped("Conditional result was False");
                if let Some(c) = false_condition {
                    r = r.with("false_condition", c.clone());
                }
                return r;
            }
            Err(e) => return self.template_failure(&e),
        }
        let args = match self.render_args(&value) {
            Ok(args) => args,
            Err(r) => return r,
        };
        // `environment:` values are templates too, as in Ansible.
        let environment = (self.task.environment.iter())
            .map(|(name, raw)| Ok((name.clone(), templar.render_value(raw, &value)?)))
            .collect::<Result<Vars, TemplateError>>();
        let environment = match environment {
            Ok(environment) => environment,
            Err(e) => return self.template_failure(&e),
        };
        let retries = if self.task.until.is_some() {
            self.task.retries
        } else {
            0
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut result = self.call_module(&args, &environment, &value).await;
            if result.unreachable {
                return result;
            }
            let with_result = self.scope_with_result(scope, &result);
            if let Err(r) = self.apply_overrides(&mut result, &with_result) {
                return r;
            }
            let Some(until) = &self.task.until else {
                return result;
            };
            let done = match templar.eval_bool(until, &with_result) {
                Ok(done) => done,
                Err(e) => return self.template_failure(&e),
            };
            result.data.insert("attempts".into(), Json::from(attempt));
            // As Ansible: a met condition ends the retries; the result
            // keeps its own failure (a job that exited non-zero still fails).
            if done {
                return result;
            }
            if attempt > retries {
                // Ansible reports one attempt fewer than it made once the
                // retries are exhausted (its `retries - 1`): keep its count.
                result.data.insert("attempts".into(), Json::from(retries));
                result.failed = true;
                result.msg.get_or_insert_with(|| {
                    format!("the 'until' condition was not met after {attempt} attempts")
                });
                return result;
            }
            self.sink.emit(Event::Retrying {
                host: self.host.clone(),
                task: self.task.display_name(),
                retries_left: retries + 1 - attempt,
                result: self.censor(&result),
            });
            tokio::time::sleep(self.task.delay).await;
        }
    }

    fn render_args(&self, scope: &minijinja::Value) -> Result<Vars, TaskResult> {
        let templar = &self.engine.templar;
        let raw = modules::self_rendered_params(self.module);
        let mut rendered = Vars::new();
        for (name, value) in self.args {
            let value = if raw.contains(&name.as_str()) {
                value.clone()
            } else {
                templar
                    .render_value(value, scope)
                    .map_err(|e| self.template_failure(&e))?
            };
            if let Some(value) = crate::template::without_omitted(value) {
                rendered.insert(name.clone(), value);
            }
        }
        let module = spec::lookup(self.module).expect("the loader accepted only known modules");
        spec::validate(module, &rendered, false).map_err(|e| {
            TaskResult::failed(format!("{} (task at {})", e.message, self.task.location))
        })
    }

    async fn call_module(
        &self,
        args: &Vars,
        environment: &Vars,
        scope: &minijinja::Value,
    ) -> TaskResult {
        // A loop's items may each be delegated elsewhere.
        let conn = match (&self.task.loop_items, &self.task.delegate_to) {
            (Some(_), Some(_)) => {
                let target = self.engine.delegate_target_in(self.task, scope);
                self.engine
                    .connection_to(&self.host, self.task, target.as_deref())
            }
            _ => self.conn.clone(),
        };
        // `environment:` reaches every module's commands; Ansible's `raw`
        // takes none.
        let exported = (self.module != "raw")
            .then(|| WithEnvironment::new(conn.as_ref(), environment))
            .flatten();
        let conn: &dyn crate::connection::Connection = match &exported {
            Some(exported) => exported,
            None => conn.as_ref(),
        };
        // `async:`: the module's command runs as a job on the host.
        let detached = (self.task.async_job).map(|job| {
            let (sink, host) = (self.sink.clone(), self.host.clone());
            modules::async_job::Detached::new(conn, job).reporting(Box::new(move |jid| {
                sink.emit(Event::AsyncPoll {
                    host: host.clone(),
                    jid: jid.to_string(),
                })
            }))
        });
        let conn: &dyn crate::connection::Connection = match &detached {
            Some(detached) => detached,
            None => conn,
        };
        let ctx = ModuleContext {
            host: &self.host,
            conn,
            templar: &self.engine.templar,
            scope,
            check_mode: self.check_mode,
            diff: self.diff,
            verbosity: self.engine.opts.verbosity,
            base_dir: self.base_dir,
            role_dir: self.task.role.as_ref().map(|r| r.path.as_path()),
        };
        let result = match self.task.timeout {
            None => modules::run(self.module, args, &ctx).await,
            Some(limit) => {
                // Dropping the call abandons its remote command; the
                // connection kills it before its next command (`ssh::client`).
                let period = std::time::Duration::from_secs(u64::from(limit));
                match tokio::time::timeout(period, modules::run(self.module, args, &ctx)).await {
                    Ok(result) => result,
                    // Ansible's wording, so that `msg is search(...)` checks carry over.
                    Err(_) => TaskResult::failed(format!(
                        "The {} action failed to execute in the expected time frame ({limit}) and was terminated",
                        self.module
                    ))
                    .with("timedout", serde_json::json!({ "period": limit })),
                }
            }
        };
        let result = if self.module == "raw" && !environment.is_empty() {
            result.with_warning("raw module does not support the environment keyword")
        } else {
            result
        };
        let Some(detached) = &detached else {
            return result;
        };
        if let Some(job) = detached.started_job().filter(|_| detached.polled()) {
            self.sink.emit(Event::AsyncDone {
                host: self.host.clone(),
                jid: job.jid,
                failed: result.failed,
            });
        }
        detached.finish(result).await
    }

    /// The scope plus the registered name bound to this result, for
    /// `until`, `changed_when` and `failed_when`.
    fn scope_with_result(&self, scope: &Scope, result: &TaskResult) -> minijinja::Value {
        match &self.task.register {
            Some(name) => {
                let mut layer = Vars::new();
                layer.insert(name.clone(), result.to_json());
                scope.with_data(layer).into_value()
            }
            None => scope.clone().into_value(),
        }
    }

    fn apply_overrides(
        &self,
        result: &mut TaskResult,
        scope: &minijinja::Value,
    ) -> Result<(), TaskResult> {
        let templar = &self.engine.templar;
        if let Some(conditions) = &self.task.changed_when {
            result.changed = conditions_hold(templar, conditions, scope)
                .map_err(|e| self.template_failure(&e))?;
        }
        if let Some(conditions) = &self.task.failed_when {
            let failed = conditions_hold(templar, conditions, scope)
                .map_err(|e| self.template_failure(&e))?;
            result.failed = failed;
            if failed {
                result
                    .msg
                    .get_or_insert_with(|| "the failed_when condition was met".into());
            } else if result.msg.as_deref() == Some("non-zero return code") {
                result.msg = None;
            }
        }
        Ok(())
    }

    fn template_failure(&self, e: &TemplateError) -> TaskResult {
        let what = match &e.undefined {
            Some(name) => format!("undefined variable '{name}'"),
            None => e.to_string(),
        };
        TaskResult::failed(format!(
            "{what} in task '{}' at {}",
            self.task.display_name(),
            self.task.location
        ))
    }

    fn censor(&self, result: &TaskResult) -> Json {
        if self.task.no_log {
            serde_json::json!({ "censored": CENSORED, "changed": result.changed, "failed": result.failed })
        } else {
            result.to_json()
        }
    }

    fn emit(&self, result: &TaskResult, item: Option<String>, scope: &Scope) {
        self.sink.emit(Event::HostResult(HostResult {
            host: self.host.clone(),
            status: result.status(),
            item: if self.task.no_log {
                item.map(|_| "(censored due to no_log)".into())
            } else {
                item
            },
            result: self.censor(result),
            ignored: result.failed && self.task.ignore_errors,
            delegated_to: (self.task.delegate_to.as_ref()).and_then(|_| {
                (self.engine).delegate_target_in(self.task, &scope.clone().into_value())
            }),
            show_result: self.module == "debug",
            show_diff: self.diff,
        }));
    }
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}
