//! Checks made before anything runs: every template must compile, and every
//! variable a template uses must be defined *somewhere* (inventory, play,
//! vars files, extra vars, a `register`, a `set_fact`, a loop variable or a
//! magic variable). A variable that is defined nowhere can only fail at run
//! time, possibly half-way through a rollout, so it stops the run up front.
//! Uses guarded by `is defined` or `default(...)` are allowed.

use crate::diag::{Diagnostic, Location};
use crate::inventory::Inventory;
use crate::playbook::{Action, Play, Playbook, Task};
use crate::template::Templar;
use regex::Regex;
use serde_json::{Map, Value as Json};
use std::collections::HashSet;

pub fn check_templates(
    pb: &Playbook,
    inventory: &Inventory,
    extra: &Map<String, Json>,
    templar: &Templar,
) -> Result<(), Diagnostic> {
    let mut known: HashSet<String> = super::magic::names().map(str::to_string).collect();
    known.extend(extra.keys().cloned());
    for host in inventory.hosts() {
        known.extend(inventory.host_vars(host).keys().cloned());
    }
    // From the first play whose include_vars cannot be read before the
    // run (templated), the names it brings cannot be known in advance.
    let mut unknowable_from = pb.plays.len();
    for (i, play) in pb.plays.iter().enumerate() {
        if !collect_play_names(play, &mut known) {
            unknowable_from = unknowable_from.min(i);
        }
    }
    for (i, play) in pb.plays.iter().enumerate() {
        // Variables from templated vars_files names cannot be known in advance.
        if i >= unknowable_from
            || play
                .vars_files
                .iter()
                .any(|f| f.candidates.iter().any(|c| c.contains("{{")))
        {
            continue;
        }
        // A vars file that cannot be read (a vault it cannot open): the
        // play reports it when it starts, with Ansible's exit code.
        let Some(names) = vars_files_names(play) else {
            continue;
        };
        let mut play_known = known.clone();
        play_known.extend(names);
        for value in play.vars.values() {
            check_value(templar, value, &[], &play_known, &play.location)?;
        }
        for (location, value) in play.load_balancer.iter().flat_map(|lb| lb.values()) {
            check_value(templar, value, &[], &play_known, location)?;
        }
        for task in play
            .pre_tasks
            .iter()
            .chain(&play.tasks)
            .chain(&play.post_tasks)
            .chain(&play.handlers)
            .chain(&play.rollback)
        {
            check_task(templar, task, &play_known)?;
        }
    }
    Ok(())
}

/// Adds the names a play defines; false when some cannot be known before
/// the run (an include_vars of a templated path).
fn collect_play_names(play: &Play, known: &mut HashSet<String>) -> bool {
    known.extend(play.vars.keys().cloned());
    known.extend(play.vars_prompt.iter().map(|p| p.name.clone()));
    let exports = &play.role_exports;
    known.extend(exports.defaults.keys().chain(exports.vars.keys()).cloned());
    // Gathering (Ansible's default) defines the host's `ansible_*` facts.
    if play.gather_facts.unwrap_or(true) {
        known.extend(fact_prefix("setup").map(|p| format!("{p}*")));
    }
    fn walk(task: &Task, base_dir: &std::path::Path, known: &mut HashSet<String>) -> bool {
        let mut knowable = true;
        {
            if let Some(role) = &task.role {
                let names = role.defaults.keys().chain(role.vars.keys());
                known.extend(names.chain(role.params.keys()).cloned());
            }
            known.extend(task.register.iter().cloned());
            known.insert(task.loop_var.clone());
            known.extend(task.index_var.iter().cloned());
            known.extend(task.vars.keys().cloned());
            match &task.action {
                Action::Module { module, args } if module == "set_fact" => {
                    known.extend(args.keys().cloned())
                }
                Action::Module { module, args } if module == "include_vars" => {
                    let role_dir = task.role.as_ref().map(|r| r.path.as_path());
                    match crate::modules::include_vars::names_at_load(role_dir, base_dir, args) {
                        Some(names) => known.extend(names),
                        None => knowable = false,
                    }
                }
                Action::Module { module, .. } => {
                    known.extend(fact_prefix(module).map(|p| format!("{p}*")))
                }
                Action::Block { rescue, .. } if !rescue.is_empty() => {
                    known.insert("ansible_failed_task".into());
                    known.insert("ansible_failed_result".into());
                }
                _ => {}
            }
        }
        for child in task.children() {
            knowable &= walk(child, base_dir, known);
        }
        knowable
    }
    let mut knowable = true;
    for list in [
        &play.pre_tasks,
        &play.tasks,
        &play.post_tasks,
        &play.handlers,
        &play.rollback,
    ] {
        for task in list {
            knowable &= walk(task, &play.base_dir, known);
        }
    }
    knowable
}

/// The prefix of the facts a module sets, for modules whose fact names come
/// from the host (`ec2_metadata_facts` sets one `ansible_ec2_*` per entry).
fn fact_prefix(module: &str) -> Option<&'static str> {
    match crate::modules::spec::canonical_name(module) {
        "ec2_metadata_facts" => Some("ansible_ec2_"),
        "setup" => Some("ansible_"),
        _ => None,
    }
}

/// `known` holds `prefix*` entries for facts named at run time.
fn known_by_prefix(name: &str, known: &HashSet<String>) -> bool {
    known
        .iter()
        .filter_map(|k| k.strip_suffix('*'))
        .any(|prefix| name.starts_with(prefix))
}

/// Top-level names of literal vars files that exist (missing ones are
/// reported when the play starts); `None` when one exists but cannot be
/// read.
fn vars_files_names(play: &Play) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for entry in &play.vars_files {
        for candidate in &entry.candidates {
            let path = play.base_dir.join(candidate);
            if !path.exists() {
                continue;
            }
            let node = crate::playbook::read_yaml(&path).ok()?;
            if let Json::Object(map) = node.to_json() {
                names.extend(map.keys().cloned());
            }
            break;
        }
    }
    Some(names)
}

fn check_task(templar: &Templar, task: &Task, known: &HashSet<String>) -> Result<(), Diagnostic> {
    let mut expressions: Vec<String> = task.when.clone();
    for list in [&task.changed_when, &task.failed_when]
        .into_iter()
        .flatten()
    {
        expressions.extend(list.iter().cloned());
    }
    expressions.extend(task.until.clone());
    // `assert`'s `that:` holds bare expressions too. (`debug`'s `var=` is
    // left out: it shows an undefined variable rather than failing.)
    if let Action::Module { module, args } = &task.action
        && module == "assert"
        && let Some(that) = args.get("that")
    {
        collect_strings(that, &mut expressions);
    }
    // A guard anywhere in the task (`when: x is defined`) covers the task.
    let mut texts: Vec<String> = Vec::new();
    match &task.action {
        Action::Module { args, .. } => collect_strings(&Json::Object(args.clone()), &mut texts),
        Action::Include { file, .. } => texts.push(file.clone()),
        _ => {}
    }
    if let Some(items) = &task.loop_items {
        collect_strings(items, &mut texts);
    }
    for value in task.vars.values().chain(task.environment.values()) {
        collect_strings(value, &mut texts);
    }
    let context: Vec<String> = expressions.iter().chain(&texts).cloned().collect();
    for expr in &expressions {
        check_source(templar, expr, true, &context, known, &task.location)?;
    }
    for text in &texts {
        check_source(templar, text, false, &context, known, &task.location)?;
    }
    task.children()
        .try_for_each(|t| check_task(templar, t, known))
}

fn check_value(
    templar: &Templar,
    value: &Json,
    guards: &[String],
    known: &HashSet<String>,
    location: &Location,
) -> Result<(), Diagnostic> {
    let mut strings = Vec::new();
    collect_strings(value, &mut strings);
    let mut all = guards.to_vec();
    all.extend(strings.iter().cloned());
    for s in &strings {
        check_source(templar, s, false, &all, known, location)?;
    }
    Ok(())
}

fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Json::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

fn check_source(
    templar: &Templar,
    source: &str,
    expression: bool,
    context: &[String],
    known: &HashSet<String>,
    location: &Location,
) -> Result<(), Diagnostic> {
    if !expression && !source.contains("{{") && !source.contains("{%") {
        return Ok(());
    }
    let names = templar
        .referenced_variables(source, expression)
        .map_err(|e| {
            Diagnostic::new(format!("template error in '{source}': {e}"))
                .with_location(locate(
                    location,
                    source.lines().next().unwrap_or(source),
                    false,
                ))
                .with_help("check the Jinja syntax: matching braces, quotes and filter names")
        })?;
    for name in names {
        if known.contains(&name) || known_by_prefix(&name, known) || is_guarded(&name, context) {
            continue;
        }
        return Err(Diagnostic::new(format!("undefined variable '{name}' in '{source}'"))
            .with_location(locate(location, &name, true))
            .with_help(format!(
                "define '{name}' in the inventory, the play's vars, a vars file, or with -e {name}=...; \
                 or guard it with '{name} is defined' / '{name} | default(...)'"
            )));
    }
    Ok(())
}

/// Whether `name` is used under `is defined`, `is undefined` or `default`.
fn is_guarded(name: &str, context: &[String]) -> bool {
    let pattern = format!(
        r"\b{}\b(\.\w+|\[[^\]]*\])*\s*(is\s+(not\s+)?(defined|undefined|none)\b|\|\s*(default|d|mandatory)\b)",
        regex::escape(name)
    );
    let Ok(re) = Regex::new(&pattern) else {
        return false;
    };
    context.iter().any(|text| re.is_match(text))
}

/// The first place at or after the task's line where `needle` appears (as a
/// whole word, or as literal text), so the error shows the offending line
/// rather than the task's first line.
fn locate(task: &Location, needle: &str, whole_word: bool) -> Location {
    let Ok(text) = std::fs::read_to_string(&task.file) else {
        return task.clone();
    };
    let pattern = if whole_word {
        format!(r"\b{}\b", regex::escape(needle))
    } else {
        regex::escape(needle)
    };
    let Ok(re) = Regex::new(&pattern) else {
        return task.clone();
    };
    for (index, line) in text
        .lines()
        .enumerate()
        .skip(task.line.saturating_sub(1))
        .take(200)
    {
        if let Some(m) = re.find(line) {
            return Location {
                file: task.file.clone(),
                line: index + 1,
                col: line[..m.start()].chars().count() + 1,
            };
        }
    }
    task.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_are_recognised() {
        let ctx = |s: &str| vec![s.to_string()];
        assert!(is_guarded("x", &ctx("x is defined and x > 1")));
        assert!(is_guarded("x", &ctx("{{ x.y | default('a') }}")));
        assert!(is_guarded("x", &ctx("x['k'] is not defined")));
        assert!(!is_guarded("x", &ctx("{{ x }}")));
        assert!(!is_guarded("x", &ctx("{{ xy | default(1) }}")));
    }
}
