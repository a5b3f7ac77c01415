//! The login part of a terminal session (su): answer the password prompt
//! once, then wait for the marker the command prints when it starts. Pure,
//! so any transport that has a terminal can drive it.

use super::TerminalLogin;

/// What to do with a chunk of terminal output.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Still logging in: nothing to send.
    Wait,
    /// A password prompt: type this.
    Type(Vec<u8>),
    /// The command started: this is its first output; type the input now.
    Started(Vec<u8>),
    /// The command's output.
    Output(Vec<u8>),
}

pub struct Transcript<'a> {
    login: TerminalLogin<'a>,
    /// Everything before the marker (prompts, su's messages).
    before: Vec<u8>,
    answered: bool,
    started: bool,
}

impl<'a> Transcript<'a> {
    pub fn new(login: TerminalLogin<'a>) -> Self {
        Transcript {
            login,
            before: Vec::new(),
            answered: false,
            started: false,
        }
    }

    pub fn started(&self) -> bool {
        self.started
    }

    pub fn feed(&mut self, data: &[u8]) -> Step {
        if self.started {
            return Step::Output(data.to_vec());
        }
        self.before.extend_from_slice(data);
        let marker = self.login.marker.as_bytes();
        if let Some(at) = find(&self.before, marker) {
            self.started = true;
            let mut rest = &self.before[at + marker.len()..];
            // The marker's own line end (the terminal may still add \r).
            rest = rest.strip_prefix(b"\r").unwrap_or(rest);
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
            return Step::Started(rest.to_vec());
        }
        if !self.answered && self.prompting() {
            self.answered = true;
            return Step::Type(format!("{}\n", self.login.password).into_bytes());
        }
        Step::Wait
    }

    /// A prompt ends the output so far: `Password: ` (any case, any prefix).
    fn prompting(&self) -> bool {
        let text = String::from_utf8_lossy(&self.before);
        let last = text.rsplit(['\n', '\r']).next().unwrap_or_default();
        last.to_ascii_lowercase().contains("assword") && last.trim_end().ends_with(':')
    }

    /// Why the command never started: the login's last line (a refusal, or
    /// a prompt left unanswered), without the password should the terminal
    /// have echoed it.
    pub fn failure(&self) -> String {
        let text = String::from_utf8_lossy(&self.before).replace(self.login.password, "********");
        match text.lines().map(str::trim).rfind(|l| !l.is_empty()) {
            Some(last) => last.to_string(),
            None => "no output".into(),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login() -> TerminalLogin<'static> {
        TerminalLogin {
            password: "s3cret",
            marker: "ROLLOUT-BECOME-1",
            input: None,
        }
    }

    #[test]
    fn answers_the_prompt_once_then_passes_output_after_the_marker() {
        let mut t = Transcript::new(login());
        assert_eq!(t.feed(b"Pass"), Step::Wait);
        assert_eq!(t.feed(b"word: "), Step::Type(b"s3cret\n".to_vec()));
        assert_eq!(t.feed(b"\r\n"), Step::Wait);
        assert_eq!(
            t.feed(b"ROLLOUT-BECOME-1\r\nhello"),
            Step::Started(b"hello".to_vec())
        );
        assert!(t.started());
        assert_eq!(t.feed(b" world\n"), Step::Output(b" world\n".to_vec()));
    }

    #[test]
    fn a_refused_login_says_why_without_the_password() {
        let mut t = Transcript::new(login());
        assert_eq!(t.feed(b"Password: "), Step::Type(b"s3cret\n".to_vec()));
        assert_eq!(
            t.feed(b"s3cret\r\nsu: Authentication failure\r\n"),
            Step::Wait
        );
        assert_eq!(t.failure(), "su: Authentication failure");
        assert!(!t.started());
        // A second prompt is not answered again.
        assert_eq!(t.feed(b"Password: "), Step::Wait);
        let mut t = Transcript::new(login());
        assert_eq!(t.feed(b"Passwort: "), Step::Wait, "not a prompt it knows");
        assert_eq!(t.failure(), "Passwort:");
    }
}
