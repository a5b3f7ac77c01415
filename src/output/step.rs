//! `--step` on the terminal: Ansible's prompt on stdout, the answer read
//! from stdin (which must be a terminal: checked before the run starts),
//! then the prompt again as a banner, as `ansible-playbook --step` shows it.

use super::console::banner;
use crate::engine::step::{Answer, StepGate};
use indicatif::MultiProgress;
use std::io::{BufRead, Write};

/// Asks on the terminal; live progress lines, if any, are put aside while
/// it waits for the answer.
pub struct TerminalStep {
    progress: Option<MultiProgress>,
}

impl TerminalStep {
    pub fn new(progress: Option<MultiProgress>) -> TerminalStep {
        TerminalStep { progress }
    }
}

/// Ansible's question for `what` (`TASK: name`).
pub fn question(what: &str) -> String {
    format!("Perform task: {what} (N)o/(y)es/(c)ontinue: ")
}

fn ask_on_terminal(what: &str) -> Answer {
    let question = question(what);
    let mut stdout = std::io::stdout();
    let _ = write!(stdout, "{question}");
    let _ = stdout.flush();
    let mut line = String::new();
    // End of input answers no, as an empty line does.
    let _ = std::io::stdin().lock().read_line(&mut line);
    let _ = writeln!(stdout, "\n{}", banner(question.trim_end()));
    Answer::parse(&line)
}

impl StepGate for TerminalStep {
    fn ask(&self, what: &str) -> Answer {
        match &self.progress {
            Some(progress) => progress.suspend(|| ask_on_terminal(what)),
            None => ask_on_terminal(what),
        }
    }
}
