//! `password`: a random password kept in a controller file (relative to
//! the playbook's directory). A missing file is created (mode 0600, its
//! directory 0700) with a new password of `length` (20) characters drawn
//! from `chars` (letters, digits and `.,:-_`); an existing one is read
//! back, so the same password comes out on every run. `/dev/null` gives a
//! new password each time and stores nothing.

use super::{Call, Outcome};
use crate::playbook::kv;
use minijinja::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

const PARAMS: &[&str] = &["length", "chars", "encrypt", "ident", "seed"];
const DEFAULT_CHARS: &[&str] = &["ascii_letters", "digits", ".,:-_"];

pub fn run(call: &Call<'_>) -> Outcome {
    let mut values = Vec::new();
    for term in call.text_terms()? {
        let request = Request::parse(call, &term)?;
        let path = match request.path.starts_with('/') {
            true => PathBuf::from(&request.path),
            false => call.base_dir().join(&request.path),
        };
        values.push(Value::from(stored_or_new(&path, &request)?));
    }
    Ok(values)
}

/// One term: `path [length=N] [chars=...]`, options from the call too.
struct Request {
    path: String,
    length: usize,
    chars: Vec<char>,
}

impl Request {
    fn parse(call: &Call<'_>, term: &str) -> Result<Request, String> {
        let (path, rest) = term.split_once(' ').unwrap_or((term, ""));
        let mut length = call.option::<usize>("length")?;
        let mut chars: Option<Vec<String>> = match call.option::<Value>("chars")? {
            Some(v) if v.as_str().is_some() => Some(split_chars(v.as_str().unwrap_or_default())),
            Some(v) => Some(
                v.try_iter()
                    .map_err(|e| e.to_string())?
                    .map(|c| c.to_string())
                    .collect(),
            ),
            None => None,
        };
        for name in ["encrypt", "ident", "seed"] {
            if call.option::<Value>(name)?.is_some() {
                return Err(unsupported(name));
            }
        }
        for token in kv::split_tokens(rest)? {
            let Some((key, raw)) = kv::as_pair(&token) else {
                return Err(format!(
                    "Unrecognized value after key=value parameters given to password lookup: '{token}'"
                ));
            };
            let value = kv::value(raw);
            match key {
                "length" => {
                    length = Some(
                        value
                            .parse()
                            .map_err(|_| format!("length must be a number, got '{value}'"))?,
                    )
                }
                "chars" => chars = Some(split_chars(&value)),
                k if PARAMS.contains(&k) => return Err(unsupported(k)),
                k => {
                    return Err(format!(
                        "Unrecognized parameter(s) given to password lookup: {k}"
                    ));
                }
            }
        }
        let specs = chars.unwrap_or_else(|| DEFAULT_CHARS.iter().map(|s| s.to_string()).collect());
        let chars: Vec<char> = specs
            .iter()
            .flat_map(|s| char_set(s).chars().collect::<Vec<_>>())
            .filter(|c| !matches!(c, '"' | '\''))
            .collect();
        if chars.is_empty() || chars.len() > 256 {
            return Err("chars must give between 1 and 256 characters to draw from".into());
        }
        Ok(Request {
            path: path.to_string(),
            length: length.unwrap_or(20),
            chars,
        })
    }
}

fn unsupported(option: &str) -> String {
    format!(
        "the password lookup's '{option}' option is not supported by rollout; store a plain password and hash it with the password_hash filter"
    )
}

/// `chars=a,b` as Ansible splits it: `,,` stands for a comma.
fn split_chars(text: &str) -> Vec<String> {
    let mut specs: Vec<String> = Vec::new();
    if text.contains(",,") {
        specs.push(",".into());
    }
    specs.extend(
        text.replace(",,", ",")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
    specs
}

/// Python's `string` sets by name; any other text stands for itself.
fn char_set(spec: &str) -> &str {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";
    const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    match spec {
        "ascii_lowercase" => LOWER,
        "ascii_uppercase" => UPPER,
        "ascii_letters" => "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "digits" => DIGITS,
        "hexdigits" => "0123456789abcdefABCDEF",
        "octdigits" => "01234567",
        "punctuation" => PUNCTUATION,
        other => other,
    }
}

/// The stored password, or a new one (stored unless the path is /dev/null).
fn stored_or_new(path: &Path, request: &Request) -> Result<String, String> {
    let null = path == Path::new("/dev/null");
    if !null && path.exists() {
        let content = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let content = content.trim_end();
        // A file written with `encrypt` holds `PASSWORD salt=...`.
        return Ok(content
            .rsplit_once(" salt=")
            .map_or(content, |(pw, _)| pw)
            .to_string());
    }
    let password = random_password(request)?;
    if !null {
        store(path, &password).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(password)
}

fn store(path: &Path, password: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{password}\n").as_bytes())
}

/// `length` characters drawn uniformly from `chars` with the kernel's
/// random source (bytes past the largest multiple of the set's size are
/// dropped, so no character is likelier than another).
fn random_password(request: &Request) -> Result<String, String> {
    let n = request.chars.len();
    let limit = 256 - 256 % n;
    let mut source = std::fs::File::open("/dev/urandom")
        .map_err(|e| format!("cannot open /dev/urandom: {e}"))?;
    let mut password = String::with_capacity(request.length);
    let mut buf = [0u8; 64];
    while password.chars().count() < request.length {
        source
            .read_exact(&mut buf)
            .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
        for byte in buf.iter().map(|b| *b as usize).filter(|b| *b < limit) {
            if password.chars().count() == request.length {
                break;
            }
            password.push(request.chars[byte % n]);
        }
    }
    Ok(password)
}
