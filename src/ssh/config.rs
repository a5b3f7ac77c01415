//! OpenSSH client configuration (`~/.ssh/config`): `Host` blocks and the
//! keywords rollout honours. Like OpenSSH, the first value found for a
//! keyword wins, so more specific blocks must come first; unknown keywords
//! and `Match` blocks are ignored.

use std::path::{Path, PathBuf};

/// The keywords rollout understands, lower-cased.
const KNOWN: &[&str] = &[
    "hostname",
    "user",
    "port",
    "identityfile",
    "proxyjump",
    "proxycommand",
    "userknownhostsfile",
    "globalknownhostsfile",
    "stricthostkeychecking",
    "connecttimeout",
    "serveraliveinterval",
];

/// Includes nested deeper than this are ignored (OpenSSH stops at 16 too).
const MAX_INCLUDE_DEPTH: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Block {
    /// `None` for the options before the first `Host` line (they apply to all).
    patterns: Option<Vec<String>>,
    options: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

/// The options that apply to one host, before token expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<String>,
    /// Every `IdentityFile` found, in order (OpenSSH accumulates them).
    pub identity_files: Vec<String>,
    pub proxy_jump: Option<String>,
    pub proxy_command: Option<String>,
    pub user_known_hosts_files: Vec<String>,
    pub global_known_hosts_files: Vec<String>,
    pub strict_host_key_checking: Option<String>,
    pub connect_timeout: Option<String>,
    pub server_alive_interval: Option<String>,
}

impl SshConfig {
    /// Reads a config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, String> {
        let mut config = SshConfig::default();
        config.load_into(path, 0)?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut config = SshConfig::default();
        config.parse_into(text, Path::new("."), 0)?;
        Ok(config)
    }

    fn load_into(&mut self, path: &Path, depth: usize) -> Result<(), String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        self.parse_into(&text, dir, depth)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn parse_into(&mut self, text: &str, dir: &Path, depth: usize) -> Result<(), String> {
        if self.blocks.is_empty() {
            self.blocks.push(Block::default());
        }
        for (index, raw) in text.lines().enumerate() {
            let Some((keyword, args)) =
                split_line(raw).map_err(|e| format!("line {}: {e}", index + 1))?
            else {
                continue;
            };
            match keyword.as_str() {
                "host" => self.blocks.push(Block {
                    patterns: Some(args),
                    options: Vec::new(),
                }),
                // A `Match` block is never applied: an impossible pattern.
                "match" => self.blocks.push(Block {
                    patterns: Some(Vec::new()),
                    options: Vec::new(),
                }),
                "include" if depth < MAX_INCLUDE_DEPTH => {
                    for arg in args {
                        for file in include_files(&expand_home(&arg), dir) {
                            self.load_into(&file, depth + 1)?;
                        }
                    }
                }
                k if KNOWN.contains(&k) => {
                    if let Some(block) = self.blocks.last_mut() {
                        block.options.push((keyword, args));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Options from `-o Key=Value` command-line arguments, which beat the
    /// config file (they are applied first and the first value wins).
    pub fn with_overrides(mut self, lines: &[String]) -> Result<Self, String> {
        let mut block = Block::default();
        for line in lines {
            if let Some((keyword, args)) = split_line(line)?
                && KNOWN.contains(&keyword.as_str())
            {
                block.options.push((keyword, args));
            }
        }
        self.blocks.insert(0, block);
        Ok(self)
    }

    /// The options for `host` (the name given on the command line).
    pub fn resolve(&self, host: &str) -> HostConfig {
        let mut out = HostConfig::default();
        for block in &self.blocks {
            if let Some(patterns) = &block.patterns
                && !host_matches(patterns, host)
            {
                continue;
            }
            for (keyword, args) in &block.options {
                out.apply(keyword, args);
            }
        }
        out
    }
}

impl HostConfig {
    fn apply(&mut self, keyword: &str, args: &[String]) {
        let first = args.first().cloned();
        let set = |slot: &mut Option<String>| {
            if slot.is_none() {
                *slot = first.clone();
            }
        };
        match keyword {
            "hostname" => set(&mut self.hostname),
            "user" => set(&mut self.user),
            "port" => set(&mut self.port),
            "proxyjump" => set(&mut self.proxy_jump),
            "proxycommand" => set(&mut self.proxy_command),
            "stricthostkeychecking" => set(&mut self.strict_host_key_checking),
            "connecttimeout" => set(&mut self.connect_timeout),
            "serveraliveinterval" => set(&mut self.server_alive_interval),
            "identityfile" => self.identity_files.extend(first),
            "userknownhostsfile" if self.user_known_hosts_files.is_empty() => {
                self.user_known_hosts_files = args.to_vec()
            }
            "globalknownhostsfile" if self.global_known_hosts_files.is_empty() => {
                self.global_known_hosts_files = args.to_vec()
            }
            _ => {}
        }
    }
}

/// Splits `Keyword args...` or `Keyword=args`, honouring double quotes.
/// Returns `None` for blank lines and comments.
/// Whether a `Keyword value` / `Keyword=value` option is one rollout acts on.
pub fn is_known(option: &str) -> bool {
    matches!(split_line(option), Ok(Some((keyword, _))) if KNOWN.contains(&keyword.as_str()))
}

fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let split_at = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..split_at].to_ascii_lowercase();
    let mut rest = line[split_at..].trim_start();
    if let Some(stripped) = rest.strip_prefix('=') {
        rest = stripped.trim_start();
    }
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut word = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next_if(|c| quoted || !c.is_whitespace()) {
            if c == '"' {
                quoted = !quoted;
            } else {
                word.push(c);
            }
        }
        if quoted {
            return Err(format!("unterminated quote in '{line}'"));
        }
        if !word.is_empty() {
            args.push(word);
        }
    }
    Ok(Some((keyword, args)))
}

/// OpenSSH semantics: the host must match at least one positive pattern and
/// no negated one.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.iter().flat_map(|p| p.split(',')) {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(negated, host) {
                return false;
            }
        } else if glob_match(pattern, host) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` wildcards, case-insensitive like OpenSSH host matching.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The files an `Include` names: relative paths are under the including
/// file's directory; a `*` in the file name lists the directory.
fn include_files(arg: &str, dir: &Path) -> Vec<PathBuf> {
    let path = if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        dir.join(arg)
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![path];
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    let mut files: Vec<PathBuf> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| glob_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The user's home directory, from `$HOME`.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Expands a leading `~/`.
pub fn expand_home(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => home_dir().join(rest).to_string_lossy().into_owned(),
        None if path == "~" => home_dir().to_string_lossy().into_owned(),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# global defaults come last in practice, but options before Host apply to all
ServerAliveInterval 15

Host web-* !web-bad
    HostName %h.internal
    User deploy
    Port 2222
    IdentityFile ~/.ssh/web_%r
    UnknownKeyword whatever

Host db1 db2
    HostName=10.0.0.5
    ProxyJump bastion
    UserKnownHostsFile "/tmp/kh one" /tmp/kh2

Match host foo
    User matched

Host *
    User fallback
    Port 22
    IdentityFile ~/.ssh/id_ed25519
    StrictHostKeyChecking accept-new
    ConnectTimeout 5
"#;

    #[test]
    fn first_value_wins_and_identities_accumulate() {
        let config = SshConfig::parse(SAMPLE).unwrap();
        let web = config.resolve("web-1");
        assert_eq!(web.hostname.as_deref(), Some("%h.internal"));
        assert_eq!(web.user.as_deref(), Some("deploy"));
        assert_eq!(web.port.as_deref(), Some("2222"));
        assert_eq!(web.identity_files, ["~/.ssh/web_%r", "~/.ssh/id_ed25519"]);
        assert_eq!(web.server_alive_interval.as_deref(), Some("15"));
        assert_eq!(web.strict_host_key_checking.as_deref(), Some("accept-new"));
        assert_eq!(web.connect_timeout.as_deref(), Some("5"));
    }

    #[test]
    fn negation_multiple_patterns_and_quotes() {
        let config = SshConfig::parse(SAMPLE).unwrap();
        let bad = config.resolve("web-bad");
        assert_eq!(bad.user.as_deref(), Some("fallback"));
        assert_eq!(bad.hostname, None);
        let db = config.resolve("db2");
        assert_eq!(db.hostname.as_deref(), Some("10.0.0.5"));
        assert_eq!(db.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(db.user_known_hosts_files, ["/tmp/kh one", "/tmp/kh2"]);
        // Match blocks are never applied.
        assert_eq!(config.resolve("foo").user.as_deref(), Some("fallback"));
    }

    #[test]
    fn globs() {
        assert!(glob_match("web-?", "web-1"));
        assert!(!glob_match("web-?", "web-10"));
        assert!(glob_match("*.example.com", "a.b.EXAMPLE.com"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbd"));
        assert!(host_matches(&["a,b".into()], "b"));
        assert!(
            !host_matches(&["!a".into()], "b"),
            "negation alone never matches"
        );
    }

    #[test]
    fn overrides_beat_the_file() {
        let config = SshConfig::parse(SAMPLE)
            .unwrap()
            .with_overrides(&["ProxyJump=jump1".into(), "User other".into()])
            .unwrap();
        let db = config.resolve("db1");
        assert_eq!(db.proxy_jump.as_deref(), Some("jump1"));
        assert_eq!(db.user.as_deref(), Some("other"));
    }

    #[test]
    fn include_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/a.conf"),
            "Host inc\n User fromincl\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("config"), "Include conf.d/*.conf\n").unwrap();
        let config = SshConfig::load(&dir.path().join("config")).unwrap();
        assert_eq!(config.resolve("inc").user.as_deref(), Some("fromincl"));
        let empty = SshConfig::load(&dir.path().join("nope")).unwrap();
        assert_eq!(empty.resolve("x"), HostConfig::default());
        assert!(SshConfig::parse("User \"open").is_err());
    }
}
