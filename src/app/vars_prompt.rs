//! `vars_prompt`: the answers to every play's prompts, asked before the
//! run starts and stored in the play's vars (Ansible's precedence for
//! them). A variable given with `-e` is not asked. Without a terminal a
//! prompt takes its default (with Ansible's warning); one without a
//! default is an error that says how to pass the value, where Ansible
//! would carry on with the string "None". What is typed at a private
//! prompt is masked in outputs, as vault values are.

use crate::diag::Diagnostic;
use crate::playbook::{Playbook, VarPrompt};
use crate::template::{Templar, is_template};
use serde_json::{Map, Value as Json};
use std::io::{BufRead, IsTerminal, Write};

/// Where answers come from.
pub trait Asker {
    /// Whether a person can answer (stdin is a terminal).
    fn interactive(&self) -> bool;
    /// Asks once; `private` answers are not echoed.
    fn ask(&mut self, message: &str, private: bool) -> std::io::Result<String>;
    /// Tells the user something (confirmations that differ).
    fn say(&mut self, message: &str);
}

/// The terminal: echo-less answers through rpassword, others from stdin.
pub struct Terminal;

impl Asker for Terminal {
    fn interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn ask(&mut self, message: &str, private: bool) -> std::io::Result<String> {
        if private {
            return rpassword::prompt_password(message);
        }
        let mut out = std::io::stdout();
        out.write_all(message.as_bytes())?;
        out.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }

    fn say(&mut self, message: &str) {
        println!("{message}");
    }
}

/// Fills every play's prompted variables into its vars; returns the
/// warnings to show. With `ask` false (listings), defaults are taken
/// without asking, as Ansible does.
pub fn resolve(
    playbooks: &mut [Playbook],
    extra: &Map<String, Json>,
    templar: &Templar,
    asker: &mut dyn Asker,
    ask: bool,
) -> Result<Vec<String>, Diagnostic> {
    let mut warnings = Vec::new();
    for play in playbooks.iter_mut().flat_map(|pb| pb.plays.iter_mut()) {
        let mut ctx = play.vars.clone();
        ctx.extend(extra.clone());
        let ctx = minijinja::Value::from(minijinja::value::Serde(&ctx));
        for prompt in play
            .vars_prompt
            .iter()
            .filter(|p| !extra.contains_key(&p.name))
        {
            let answer = match ask {
                true => answer(prompt, templar, &ctx, asker, &mut warnings)?,
                false => {
                    render(prompt.default.as_deref(), prompt, templar, &ctx)?.unwrap_or_default()
                }
            };
            let value = match prompt.unsafe_ && is_template(&answer) {
                // An unsafe answer is data: kept from being rendered.
                true => format!("{{% raw %}}{answer}{{% endraw %}}"),
                false => answer,
            };
            play.vars.insert(prompt.name.clone(), Json::String(value));
        }
    }
    Ok(warnings)
}

fn answer(
    prompt: &VarPrompt,
    templar: &Templar,
    ctx: &minijinja::Value,
    asker: &mut dyn Asker,
    warnings: &mut Vec<String>,
) -> Result<String, Diagnostic> {
    let default = render(prompt.default.as_deref(), prompt, templar, ctx)?;
    if !asker.interactive() {
        let Some(default) = default else {
            return Err(Diagnostic::new(format!(
                "vars_prompt '{}' needs an answer, but stdin is not a terminal",
                prompt.name
            ))
            .with_location(prompt.location.clone())
            .with_help(format!(
                "pass it on the command line: -e {}=..., or give the prompt a default",
                prompt.name
            )));
        };
        warnings.push("Not prompting as we are not in interactive mode".into());
        return Ok(default);
    }
    let question = render(prompt.prompt.as_deref(), prompt, templar, ctx)?;
    let message = match (&question, &default) {
        (Some(q), Some(d)) => format!("{q} [{d}]: "),
        (Some(q), None) => format!("{q}: "),
        (None, _) => format!("input for {}: ", prompt.name),
    };
    let read = |asker: &mut dyn Asker, message: &str| {
        asker.ask(message, prompt.private).map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the answer to vars_prompt '{}': {e}",
                prompt.name
            ))
            .with_location(prompt.location.clone())
        })
    };
    let mut result = read(asker, &message)?;
    while prompt.confirm && read(asker, &format!("confirm {message}"))? != result {
        asker.say("***** VALUES ENTERED DO NOT MATCH ****");
        result = read(asker, &message)?;
    }
    if prompt.private {
        // A private answer is a secret: masked in every output, as vault
        // values are.
        crate::vault::redact::register(&result);
    }
    Ok(match (result.is_empty(), default) {
        (true, Some(default)) => default,
        _ => result,
    })
}

/// A prompt's text or default, rendered with the play's and extra vars.
fn render(
    text: Option<&str>,
    prompt: &VarPrompt,
    templar: &Templar,
    ctx: &minijinja::Value,
) -> Result<Option<String>, Diagnostic> {
    text.map(|t| templar.render_str(t, ctx))
        .transpose()
        .map_err(|e| {
            Diagnostic::new(format!("vars_prompt '{}': {e}", prompt.name))
                .with_location(prompt.location.clone())
        })
}
