//! ansible-playbook's colours: its default `COLOR_*` settings
//! (ansible's `config/base.yml`) as SGR codes (`COLOR_CODES` in its
//! `constants.py`), and whether to colour at all. The one place escape
//! codes are written.

/// What a piece of output is, named after Ansible's `COLOR_*` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// `COLOR_OK`: green.
    Ok,
    /// `COLOR_CHANGED`: yellow.
    Changed,
    /// `COLOR_ERROR`: red (failures, the recap's failed hosts).
    Error,
    /// `COLOR_UNREACHABLE`: bright red.
    Unreachable,
    /// `COLOR_SKIP`: cyan (skipping, `...ignoring`, no hosts matched).
    Skip,
    /// `COLOR_INCLUDED`: cyan.
    Included,
    /// `COLOR_WARN`: bright purple.
    Warn,
    /// `COLOR_DEBUG`: dark gray (`FAILED - RETRYING`).
    Debug,
    /// `COLOR_DIFF_ADD`: green.
    DiffAdd,
    /// `COLOR_DIFF_REMOVE`: red.
    DiffRemove,
    /// `COLOR_DIFF_LINES`: cyan (`@@` hunk headers).
    DiffLines,
}

impl Colour {
    /// The SGR parameters of Ansible's default colour names.
    fn sgr(self) -> &'static str {
        match self {
            Colour::Ok | Colour::DiffAdd => "0;32",
            Colour::Changed => "0;33",
            Colour::Error | Colour::DiffRemove => "0;31",
            Colour::Unreachable => "1;31",
            Colour::Skip | Colour::Included | Colour::DiffLines => "0;36",
            Colour::Warn => "1;35",
            Colour::Debug => "1;30",
        }
    }
}

/// Colours text, or leaves it plain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// No colour (files, pipes, tests).
    pub const PLAIN: Palette = Palette { enabled: false };
    /// Colour, whatever the output is.
    pub const COLOURED: Palette = Palette { enabled: true };

    /// Colour when stdout is a colour terminal, unless the environment says
    /// otherwise (see [`colour_wanted`]).
    pub fn for_stdout() -> Palette {
        use std::io::IsTerminal;
        Palette {
            enabled: colour_wanted(
                |name| std::env::var(name).ok(),
                std::io::stdout().is_terminal(),
            ),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// `text` in `colour`, each line wrapped on its own as Ansible's
    /// `stringc` does (so a line cut off by a pager keeps its colour).
    pub fn paint(&self, text: &str, colour: Colour) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let sgr = colour.sgr();
        text.split('\n')
            .map(|line| format!("\x1b[{sgr}m{line}\x1b[0m"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Ansible's resolution (`utils/color.py`): `ANSIBLE_FORCE_COLOR` (truthy)
/// colours even without a terminal and wins over everything;
/// otherwise `NO_COLOR` (any non-empty value, the no-color.org convention)
/// or a truthy `ANSIBLE_NOCOLOR` turn colour off; otherwise colour when
/// stdout is a terminal that has colours (not `TERM=dumb`, and a `TERM`
/// at all, as curses requires).
pub fn colour_wanted(env: impl Fn(&str) -> Option<String>, stdout_is_tty: bool) -> bool {
    let truthy = |name: &str| env(name).is_some_and(|v| crate::core::parse_bool(&v) == Some(true));
    if truthy("ANSIBLE_FORCE_COLOR") {
        return true;
    }
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) || truthy("ANSIBLE_NOCOLOR") {
        return false;
    }
    stdout_is_tty && env("TERM").is_some_and(|term| !term.is_empty() && term != "dumb")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(vars: &[(&str, &str)], tty: bool) -> bool {
        colour_wanted(
            |name| {
                (vars.iter())
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            },
            tty,
        )
    }

    #[test]
    fn resolves_as_ansible() {
        let term = ("TERM", "xterm-256color");
        assert!(wanted(&[term], true), "a colour terminal");
        assert!(!wanted(&[term], false), "a pipe");
        assert!(!wanted(&[("TERM", "dumb")], true), "a dumb terminal");
        assert!(!wanted(&[], true), "no TERM: curses cannot set up");
        assert!(!wanted(&[term, ("NO_COLOR", "1")], true));
        assert!(!wanted(&[term, ("NO_COLOR", "anything")], true));
        assert!(wanted(&[term, ("NO_COLOR", "")], true), "empty is unset");
        assert!(!wanted(&[term, ("ANSIBLE_NOCOLOR", "yes")], true));
        assert!(wanted(&[term, ("ANSIBLE_NOCOLOR", "0")], true));
        assert!(wanted(&[("ANSIBLE_FORCE_COLOR", "1")], false), "forced");
        assert!(
            wanted(
                &[
                    ("ANSIBLE_FORCE_COLOR", "true"),
                    ("ANSIBLE_NOCOLOR", "1"),
                    ("NO_COLOR", "1"),
                    ("TERM", "dumb")
                ],
                false
            ),
            "FORCE_COLOR wins over every other setting"
        );
        assert!(!wanted(&[("ANSIBLE_FORCE_COLOR", "0")], false));
    }

    #[test]
    fn paints_each_line() {
        assert_eq!(Palette::PLAIN.paint("ok: [h]", Colour::Ok), "ok: [h]");
        assert_eq!(
            Palette::COLOURED.paint("a\nb", Colour::Changed),
            "\x1b[0;33ma\x1b[0m\n\x1b[0;33mb\x1b[0m"
        );
        assert_eq!(
            Palette::COLOURED.paint("x", Colour::Unreachable),
            "\x1b[1;31mx\x1b[0m"
        );
    }
}
