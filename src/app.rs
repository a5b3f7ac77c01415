//! The application: from parsed arguments to an exit code.
//!
//! Loading is done completely before anything runs, so any input error
//! (playbook, inventory, extra vars, undefined variables) exits 4 or 5 with
//! nothing executed.

mod vars_prompt;

use crate::cli::{Cli, Command, PlayArgs};
use crate::diag::Diagnostic;
use crate::engine::step::StepGate;
use crate::engine::{Engine, RunOptions, RunSummary};
use crate::error::{Error, exit};
use crate::events::{Event, EventSink, Fanout, Sink};
use crate::inventory::Inventory;
use crate::output::palette::{Colour, Palette};
use crate::output::{console::Console, json::JsonLines, webhook::Webhooks};
use crate::playbook::{self, Action, Playbook, Task, kv};
use crate::template::Templar;
use clap::Parser;
use indicatif::MultiProgress;
use serde_json::{Map, Value as Json};
use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub mod settings;
mod vault_cmd;

pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                _ => exit::OPTIONS,
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ERROR! cannot start the async runtime: {e}");
            return exit::INTERNAL;
        }
    };
    let result = match cli.command {
        Command::Play(args) => runtime.block_on(play(*args)),
        Command::Status => status(),
        Command::Completions { shell } => {
            completions(shell);
            Ok(exit::OK)
        }
        Command::Vault(command) => vault_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // An error may quote a value that came out of a vault.
            let text = crate::vault::redact::text(&error.to_string());
            eprintln!("{}", Palette::for_stdout().paint(&text, Colour::Error));
            error.exit_code()
        }
    }
}

/// `rollout status`: the last run's journal, folded per host.
fn status() -> Result<i32, Error> {
    let (path, run) = crate::state::last_run(&crate::state::state_dir())
        .map_err(|e| Error::Internal(Diagnostic::new(e)))?;
    warn(&run.warnings);
    print!("{}", crate::state::journal::render(&path, &run));
    Ok(exit::OK)
}

/// `rollout completions SHELL`: the completion script, on stdout.
fn completions(shell: clap_complete::Shell) {
    use clap::CommandFactory;
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "rollout",
        &mut std::io::stdout(),
    );
}

/// What reading the state forgave, on stderr before the run's output.
fn warn(warnings: &[String]) {
    let palette = Palette::for_stdout();
    for warning in warnings {
        let line = format!("[WARNING]: {warning}");
        eprintln!("{}", palette.paint(&line, Colour::Warn));
    }
}

async fn play(args: PlayArgs) -> Result<i32, Error> {
    let run = settings::RunSettings::resolve(&args, &crate::config::Environment::current())
        .map_err(Error::Options)?;
    warn(&run.warnings);
    if args.verbose > 0 {
        // As ansible-playbook -v says which configuration it read.
        match &run.config.file {
            Some(path) => println!("Using {} as config file", path.display()),
            None => println!("No config file found; using defaults"),
        }
    }
    vault_cmd::install_play_secrets(&vault_cmd::sources(
        &args.vault,
        run.config.vault_identity_list.value.clone(),
        (run.config.vault_password_file.as_ref()).map(|s| s.value.clone()),
    ))?;
    let extra_vars = parse_extra_vars(&args.extra_vars).map_err(Error::Options)?;
    let identity = crate::state::identity::RunIdentity::new(
        crate::state::resume::playbooks_id(&args.playbooks),
        args.limit.clone(),
        &args.tags,
        &args.skip_tags,
        &extra_vars,
    );
    let mut inventory = Inventory::load(&run.inventory).map_err(Error::Load)?;
    let mut playbooks = Vec::new();
    // Where roles are searched besides the playbook's `roles/`
    // (ansible.cfg's `roles_path`, `ANSIBLE_ROLES_PATH` winning).
    let load_options = playbook::LoadOptions {
        roles_path: run.config.roles_path.value.clone(),
    };
    for path in &args.playbooks {
        let pb = playbook::load_playbook_with(path, &load_options).map_err(Error::Load)?;
        if let Some(dir) = path.parent() {
            inventory.load_playbook_vars(dir).map_err(Error::Load)?;
        }
        playbooks.push(pb);
    }
    let templar = Templar::new();
    for pb in &playbooks {
        crate::engine::lint::check_templates(pb, &inventory, &extra_vars, &templar)
            .map_err(Error::Load)?;
    }
    if args.syntax_check {
        for pb in &playbooks {
            println!("\nplaybook: {}", pb.path.display());
        }
        return Ok(exit::OK);
    }
    let listing = args.list_hosts || args.list_tasks;
    let asked = vars_prompt::resolve(
        &mut playbooks,
        &extra_vars,
        &templar,
        &mut vars_prompt::Terminal,
        !listing,
    );
    warn(&asked.map_err(Error::Options)?);
    let stop = Arc::new(crate::engine::stop::Stop::default());
    let webhooks = Arc::new(Webhooks::default());
    let start_at = start_at(&args, &playbooks)?;
    let mut opts = RunOptions {
        limit: args.limit.clone(),
        extra_vars: extra_vars.clone(),
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        check: args.check,
        diff: args.diff,
        forks: run.forks as usize,
        verbosity: args.verbose,
        become_all: run.become_all,
        force_handlers: args.force_handlers,
        become_user: run.become_user.clone(),
        connection: run.connection.clone(),
        become_method: run.become_method.clone(),
        become_password: if run.ask_become_pass {
            Some(ask_become_pass().map_err(Error::Options)?)
        } else {
            None
        },
        stop: stop.clone(),
        webhooks: Some(webhooks.clone()),
        resume: if args.resume {
            let resume = crate::state::resume::Resume::load(
                &crate::state::state_dir(),
                &identity,
                &extra_vars,
            )
            .map_err(|e| Error::Options(Diagnostic::new(e)))?;
            warn(resume.warnings());
            Some(Arc::new(resume))
        } else {
            None
        },
        start_at,
        step: None,
        gathering: run.config.gathering.value,
        window_end: match &args.window_end {
            Some(text) => Some(
                crate::engine::window::parse_window_end(text, chrono::Local::now())
                    .map_err(|e| Error::Options(Diagnostic::new(e)))?,
            ),
            None => None,
        },
    };
    let ssh = crate::ssh::SshPool::new(crate::ssh::SshOptions {
        host_key_policy: args
            .host_key_checking
            .as_deref()
            .and_then(crate::ssh::HostKeyPolicy::parse),
        config_file: args.ssh_config.clone(),
        defaults: run.ssh.clone(),
        ..Default::default()
    })
    .map_err(|e| Error::Options(Diagnostic::new(e)))?;
    let (sink, step) = make_sink(&args, &identity, &webhooks)?;
    opts.step = step;
    let engine = Engine::new(inventory, templar, opts, sink.clone()).with_ssh(ssh);
    let exit = run_playbooks(&args, &playbooks, engine, sink, stop).await;
    webhooks.flush(std::time::Duration::from_secs(10)).await;
    exit
}

/// Runs (or lists) the playbooks; a second Ctrl-C ends it at once.
async fn run_playbooks(
    args: &PlayArgs,
    playbooks: &[Playbook],
    mut engine: Engine,
    sink: Sink,
    stop: Arc<crate::engine::stop::Stop>,
) -> Result<i32, Error> {
    if args.lists() {
        for pb in playbooks {
            print!("{}", listing(&engine, pb, args).map_err(Error::Load)?);
        }
        return Ok(exit::OK);
    }
    let mut total = RunSummary::default();
    let signals = tokio::spawn(watch_signals(stop.clone(), sink.clone()));
    for pb in playbooks {
        let summary = tokio::select! {
            summary = engine.run(pb) => summary,
            // A second Ctrl-C: stop now, and say which hosts are left out.
            () = stop.immediate() => {
                let hosts = stop.out_of_rotation();
                if !hosts.is_empty() {
                    sink.emit(Event::OutOfRotation { hosts });
                }
                sink.emit(Event::PlayAborted {
                    reason: "interrupted again: stopped at once".into(),
                });
                signals.abort();
                engine.close().await;
                return Ok(exit::INTERRUPTED);
            }
        };
        total = match summary {
            Ok(summary) => summary,
            Err(e) => {
                signals.abort();
                engine.close().await;
                return Err(e);
            }
        };
        if total.interrupted {
            break;
        }
    }
    signals.abort();
    engine.close().await;
    Ok(if total.interrupted {
        exit::INTERRUPTED
    } else if total.any_unreachable() {
        // Ansible's order: an unreachable host outranks a failed one.
        exit::UNREACHABLE
    } else if total.any_failed() {
        exit::HOST_FAILED
    } else {
        exit::OK
    })
}

/// Counts Ctrl-C and SIGTERM into `stop`: the first lets the hosts in
/// flight finish, the second stops at once.
async fn watch_signals(stop: Arc<crate::engine::stop::Stop>, sink: Sink) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        if stop.request() == 1 {
            sink.emit(Event::Warning {
                message:
                    "stopping: the hosts in flight finish their lifecycle, no new batch starts; \
                          interrupt again to stop at once"
                        .into(),
            });
        }
    }
}

/// `-K`: the sudo password, read without echo; from `ROLLOUT_BECOME_PASS`
/// when there is no terminal (CI, scripts).
fn ask_become_pass() -> Result<crate::engine::Secret, Diagnostic> {
    ask_secret("BECOME password: ", "ROLLOUT_BECOME_PASS", "become").map(crate::engine::Secret)
}

/// A password read without echo at `prompt`, or from the variable `env`
/// when there is no terminal (CI, scripts).
fn ask_secret(prompt: &str, env: &str, what: &str) -> Result<String, Diagnostic> {
    if let Ok(pass) = std::env::var(env) {
        return Ok(pass);
    }
    rpassword::prompt_password(prompt).map_err(|e| {
        Diagnostic::new(format!("cannot read the {what} password: {e}"))
            .with_help(format!("set {env} when there is no terminal"))
    })
}

/// `--start-at-task`, checked against the playbooks before anything runs.
fn start_at(
    args: &PlayArgs,
    playbooks: &[Playbook],
) -> Result<Option<crate::engine::start_at::StartAt>, Error> {
    let Some(pattern) = &args.start_at_task else {
        return Ok(None);
    };
    let start = crate::engine::start_at::StartAt::new(pattern);
    let plays: Vec<_> = playbooks.iter().flat_map(|pb| &pb.plays).collect();
    if args.lists() || start.found_in(&plays, &args.tags, &args.skip_tags) {
        return Ok(Some(start));
    }
    Err(Error::Options(
        Diagnostic::new(format!(
            "--start-at-task: no task is named '{pattern}' (exactly or as a glob) in {}",
            (playbooks.iter())
                .map(|pb| pb.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_help(
            "`rollout play --list-tasks` shows the names; a task inside a dynamic include \
             cannot be started at (start at the include itself), nor one the --tags leave out",
        ),
    ))
}

/// The outputs, and the webhooks (plays may add theirs) to flush at the end;
/// with `--step`, what asks before each task.
fn make_sink(
    args: &PlayArgs,
    identity: &crate::state::identity::RunIdentity,
    webhooks: &Arc<Webhooks>,
) -> Result<(Sink, Option<Arc<dyn StepGate>>), Error> {
    let (mut base, progress) = make_outputs(args).map_err(Error::Options)?;
    let step = match args.step && !args.lists() {
        true => Some(step_gate(progress).map_err(Error::Options)?),
        false => None,
    };
    // Every real run is journaled before it touches anything.
    if !(args.check || args.lists()) {
        let journal = crate::state::journal::Journal::create(&crate::state::state_dir(), identity)
            .map_err(|e| Error::Internal(Diagnostic::new(e)))?;
        base = Arc::new(Fanout(vec![base, Arc::new(journal)]));
    }
    if let Some(url) = &args.notify_webhook {
        webhooks
            .add(url)
            .map_err(|e| Error::Options(Diagnostic::new(format!("--notify-webhook: {e}"))))?;
    }
    let all: Sink = Arc::new(Fanout(vec![base, webhooks.clone()]));
    Ok((Arc::new(crate::events::Redacted(all)), step))
}

/// `--step` asks on the terminal, so stdin must be one.
fn step_gate(progress: Option<MultiProgress>) -> Result<Arc<dyn StepGate>, Diagnostic> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(
            Diagnostic::new("--step asks before each task, but stdin is not a terminal")
                .with_help("run it from a terminal, or without --step"),
        );
    }
    Ok(Arc::new(crate::output::step::TerminalStep::new(progress)))
}

/// The console (and its live view on a terminal), and `--events-json`.
fn make_outputs(args: &PlayArgs) -> Result<(Sink, Option<MultiProgress>), Diagnostic> {
    use std::io::IsTerminal;
    let palette = Palette::for_stdout();
    let mut live = None;
    // A terminal indicatif cannot draw on (TERM=dumb) gets plain lines:
    // its live view would print nothing at all there.
    let drawable = !indicatif::ProgressDrawTarget::stdout().is_hidden();
    let console: Sink = if std::io::stdout().is_terminal() && drawable {
        let progress = crate::output::progress::Progress::new(
            Console::new(std::io::sink(), args.verbose).with_palette(palette),
        );
        live = Some(progress.multi());
        Arc::new(progress)
    } else {
        Arc::new(Console::new(std::io::stdout(), args.verbose).with_palette(palette))
    };
    let Some(path) = &args.events_json else {
        return Ok((console, live));
    };
    let file = std::fs::File::create(path).map_err(|e| {
        Diagnostic::new(format!(
            "cannot write --events-json file '{}': {e}",
            path.display()
        ))
    })?;
    let json: Arc<dyn EventSink> = Arc::new(JsonLines(Mutex::new(std::io::BufWriter::new(file))));
    Ok((Arc::new(Fanout(vec![console, json])), live))
}

/// `-e` values: `key=value …`, inline YAML/JSON, or `@file`; later wins.
pub fn parse_extra_vars(values: &[String]) -> Result<Map<String, Json>, Diagnostic> {
    let mut vars = Map::new();
    for value in values {
        let text = value.trim();
        let parsed = if let Some(file) = text.strip_prefix('@') {
            let node = playbook::read_yaml(Path::new(file))?;
            mapping_of(node.to_json(), &format!("the file '{file}'"))?
        } else if text.starts_with('{')
            || text.starts_with('[')
            || (text.contains(": ") && !text.contains('='))
        {
            let node = crate::yaml::parse(text).map_err(|e| {
                Diagnostic::new(format!(
                    "-e '{text}': invalid YAML/JSON at column {}: {}",
                    e.span.col, e.message
                ))
            })?;
            mapping_of(node.to_json(), &format!("-e '{text}'"))?
        } else {
            let mut map = Map::new();
            let tokens =
                kv::split_tokens(text).map_err(|e| Diagnostic::new(format!("-e '{text}': {e}")))?;
            for token in tokens {
                let (k, v) = kv::as_pair(&token).ok_or_else(|| {
                    Diagnostic::new(format!("-e '{text}': '{token}' is not key=value"))
                        .with_help("write -e 'name=value', -e '{\"name\": 1}' or -e @vars.yaml")
                })?;
                map.insert(k.to_string(), Json::String(kv::value(v)));
            }
            map
        };
        vars.extend(parsed);
    }
    Ok(vars)
}

fn mapping_of(value: Json, what: &str) -> Result<Map<String, Json>, Diagnostic> {
    match value {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Map::new()),
        _ => Err(Diagnostic::new(format!(
            "{what} must hold a mapping of variables"
        ))),
    }
}

/// `--list-hosts` / `--list-tasks` / `--list-tags`, alone or together, in
/// ansible-playbook's layout.
fn listing(engine: &Engine, pb: &Playbook, args: &PlayArgs) -> Result<String, Diagnostic> {
    let mut out = format!("\nplaybook: {}\n", pb.path.display());
    for (i, play) in pb.plays.iter().enumerate() {
        out.push_str(&format!(
            "\n  play #{} ({}): {}\tTAGS: [{}]\n",
            i + 1,
            play.hosts,
            play.name,
            // Ansible joins the play's tag set with "," (no space).
            play.tags.join(",")
        ));
        if args.list_hosts {
            let play_hosts = engine.play_hosts(play)?;
            out.push_str(&format!(
                "    pattern: ['{}']\n    hosts ({}):\n",
                play.hosts,
                play_hosts.len()
            ));
            // Ansible lists the play's hosts, not the batches of `serial`.
            for h in &play_hosts {
                out.push_str(&format!("      {h}\n"));
            }
        }
        if !(args.list_tasks || args.list_tags) {
            continue;
        }
        let mut listed = Vec::new();
        for section in crate::playbook::Section::ALL {
            listed_tasks(play.section(section), args, &mut listed);
        }
        if args.list_tasks {
            out.push_str("    tasks:\n");
            for task in &listed {
                let tags = sorted_set(task.tags.iter());
                out.push_str(&format!(
                    "      {}\tTAGS: [{}]\n",
                    task.listed_name(),
                    tags.join(", ")
                ));
            }
        }
        if args.list_tags {
            // The play's tags and those of every task the tags select.
            let tags = sorted_set(play.tags.iter().chain(listed.iter().flat_map(|t| &t.tags)));
            out.push_str(&format!("      TASK TAGS: [{}]\n", tags.join(", ")));
        }
    }
    Ok(out)
}

/// Ansible shows tags as a sorted set.
fn sorted_set<'a>(tags: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut tags: Vec<&str> = tags.map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// The tasks `--list-tasks` shows: those `--tags`/`--skip-tags` select, in
/// play order, blocks opened.
fn listed_tasks(tasks: &[Task], args: &PlayArgs, out: &mut Vec<Task>) {
    for task in tasks {
        // An include is dynamic: listed itself, as ansible-playbook does.
        if matches!(
            task.action,
            Action::Module { .. } | Action::Meta(_) | Action::Include { .. }
        ) {
            if task.selected_by(&args.tags, &args.skip_tags) {
                out.push(task.clone());
            }
        } else if let Action::Block { block, .. } = &task.action {
            // Ansible lists a block's own tasks, not its rescue or always.
            listed_tasks(block, args, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_vars_forms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.yaml");
        std::fs::write(&file, "from_file: 3\n").unwrap();
        let vars = parse_extra_vars(&[
            "a=1 b='x y'".into(),
            r#"{"c": [1, 2]}"#.into(),
            "d: true".into(),
            format!("@{}", file.display()),
            "a=2".into(),
        ])
        .unwrap();
        assert_eq!(vars["a"], "2", "later -e wins");
        assert_eq!(vars["b"], "x y");
        assert_eq!(vars["c"], serde_json::json!([1, 2]));
        assert_eq!(vars["d"], true);
        assert_eq!(vars["from_file"], 3);
        assert!(
            parse_extra_vars(&["novalue".into()])
                .unwrap_err()
                .to_string()
                .contains("not key=value")
        );
        assert!(parse_extra_vars(&["@/nonexistent.yaml".into()]).is_err());
    }
}
