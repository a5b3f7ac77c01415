//! Vault passwords: where they come from (`--vault-password-file`,
//! `--vault-id label@source`, `--ask-vault-pass`, the environment and
//! ansible.cfg settings) and the keyring that tries them.
//!
//! As Ansible, every source is read up front, in Ansible's order: the
//! configured identity list, then `--vault-id`s, then password files (the
//! command line's, then the configured one), then the `--ask-vault-pass`
//! prompt. A source that cannot be read is a warning as long as another
//! one gave a password, and the error otherwise.

use super::format::{self, Envelope};
use super::{DEFAULT_ID, VaultError, cipher};
use std::path::{Path, PathBuf};

/// One password and the label it is for.
#[derive(Clone)]
pub struct VaultSecret {
    pub id: String,
    password: Vec<u8>,
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultSecret({}, ********)", self.id)
    }
}

impl VaultSecret {
    pub fn new(id: impl Into<String>, password: impl Into<Vec<u8>>) -> Self {
        VaultSecret {
            id: id.into(),
            password: password.into(),
        }
    }
}

/// The passwords of a run, best first.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    secrets: Vec<VaultSecret>,
    /// Sources that could not be read while another one could.
    pub warnings: Vec<String>,
}

impl Keyring {
    pub fn new(secrets: Vec<VaultSecret>) -> Self {
        Keyring {
            secrets,
            warnings: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Decrypts vault text: the secrets labelled as the envelope says
    /// first, then every other one (Ansible's default, vault_id_match off).
    /// Returns the plaintext and the label of the secret that worked.
    pub fn decrypt(&self, text: &str) -> Result<(Vec<u8>, String), VaultError> {
        let envelope = format::parse(text)?;
        if self.secrets.is_empty() {
            return Err(VaultError::NoSecrets);
        }
        let wanted = envelope.vault_id.as_deref();
        let ordered = self
            .secrets
            .iter()
            .filter(|s| Some(s.id.as_str()) == wanted)
            .chain(
                self.secrets
                    .iter()
                    .filter(|s| Some(s.id.as_str()) != wanted),
            );
        for secret in ordered {
            match cipher::decrypt(&envelope, &secret.password) {
                Ok(plain) => return Ok((plain, secret.id.clone())),
                Err(VaultError::WrongPassword) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(VaultError::WrongPassword)
    }

    /// The secret to encrypt with: the one labelled `encrypt_id`, or the
    /// only one there is.
    pub fn encrypt_secret(&self, encrypt_id: Option<&str>) -> Result<&VaultSecret, VaultError> {
        let labels = || {
            self.secrets
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        match encrypt_id {
            Some(id) => self.secrets.iter().find(|s| s.id == id).ok_or_else(|| {
                VaultError::Options(format!(
                    "did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]",
                    labels()
                ))
            }),
            None => match self.secrets.as_slice() {
                [] => Err(VaultError::NoSecrets),
                [only] => Ok(only),
                _ => Err(VaultError::Options(format!(
                    "the vault-ids {} are available to encrypt; choose one with --encrypt-vault-id",
                    labels()
                ))),
            },
        }
    }

    /// The password of the first secret labelled `id`.
    pub fn password_of(&self, id: &str) -> Option<&[u8]> {
        self.secrets
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.password.as_slice())
    }

    /// Encrypts with `secret`, labelling the envelope with its id.
    pub fn encrypt(secret: &VaultSecret, plaintext: &[u8]) -> Result<String, VaultError> {
        if format::is_encrypted(plaintext) {
            return Err(VaultError::Options("input is already encrypted".into()));
        }
        let envelope: Envelope = cipher::encrypt(plaintext, &secret.password, Some(&secret.id))?;
        Ok(format::format(&envelope))
    }
}

/// Where a run's vault passwords come from. The ansible.cfg settings
/// (`vault_identity_list`, `vault_password_file`) go in `identity_list`
/// and `config_password_file` when no environment variable set them.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// `--vault-id` values, `label@source` or `source`.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file` values.
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask_vault_pass: bool,
    /// `ANSIBLE_VAULT_IDENTITY_LIST` / `vault_identity_list`.
    pub identity_list: Vec<String>,
    /// `ANSIBLE_VAULT_PASSWORD_FILE` / `vault_password_file`.
    pub config_password_file: Option<PathBuf>,
}

/// How to ask on the terminal: for decrypting, or for a new password
/// (asked twice, as ansible-vault's encrypt does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Existing,
    New,
}

impl SecretSources {
    /// Adds what the environment sets (`ANSIBLE_VAULT_IDENTITY_LIST`,
    /// `ANSIBLE_VAULT_PASSWORD_FILE`) unless a setting gave it already.
    pub fn with_env(mut self) -> Self {
        if let Ok(list) = std::env::var("ANSIBLE_VAULT_IDENTITY_LIST") {
            self.identity_list = split_list(&list);
        }
        if let Some(file) =
            std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE").filter(|f| !f.is_empty())
        {
            self.config_password_file = Some(PathBuf::from(file));
        }
        self
    }

    /// Whether any source is given at all.
    pub fn is_empty(&self) -> bool {
        self.vault_ids.is_empty()
            && self.password_files.is_empty()
            && !self.ask_vault_pass
            && self.identity_list.is_empty()
            && self.config_password_file.is_none()
    }

    /// `label@source` slugs in Ansible's order.
    fn slugs(&self) -> Vec<String> {
        let mut slugs: Vec<String> = self.identity_list.clone();
        slugs.extend(self.vault_ids.iter().cloned());
        let files = self.password_files.iter().chain(&self.config_password_file);
        slugs.extend(files.map(|f| format!("{DEFAULT_ID}@{}", f.display())));
        if self.ask_vault_pass {
            slugs.push(format!("{DEFAULT_ID}@{ASK_VAULT_PASS}"));
        }
        slugs
    }

    /// Reads every source into a keyring.
    pub fn load(&self, prompt: Prompt) -> Result<Keyring, VaultError> {
        let mut keyring = Keyring::default();
        let mut last_error = None;
        for slug in self.slugs() {
            let (label, source) = split_slug(&slug);
            if slug.contains(';') {
                return Err(VaultError::Options(format!(
                    "'{slug}' is not a valid vault id: ';' is not allowed in vault ids"
                )));
            }
            let id = label.unwrap_or(DEFAULT_ID).to_string();
            if source == "prompt" || source == ASK_VAULT_PASS {
                let password = ask(&id, source == ASK_VAULT_PASS, prompt)?;
                keyring.secrets.push(VaultSecret::new(id, password));
                continue;
            }
            match read_source(Path::new(source), &id) {
                Ok(password) => keyring.secrets.push(VaultSecret::new(id, password)),
                Err(e) => {
                    keyring.warnings.push(format!("vault id '{id}': {e}"));
                    last_error = Some(e);
                }
            }
        }
        match last_error {
            Some(e) if keyring.secrets.is_empty() => Err(e),
            _ => Ok(keyring),
        }
    }
}

/// The source name `--ask-vault-pass` stands for (Ansible's).
const ASK_VAULT_PASS: &str = "prompt_ask_vault_pass";

fn split_slug(slug: &str) -> (Option<&str>, &str) {
    match slug.split_once('@') {
        Some((label, source)) => (Some(label), source),
        None => (None, slug),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A password file's first line, or an executable's output.
fn read_source(path: &Path, id: &str) -> Result<Vec<u8>, VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|_| {
        VaultError::Source(format!("the vault password file {shown} was not found"))
    })?;
    if meta.is_dir() {
        return Err(VaultError::Source(format!(
            "the vault password file {shown} is a directory"
        )));
    }
    let password = if meta.permissions().mode() & 0o111 != 0 {
        run_script(path, id)?
    } else {
        let data = std::fs::read(path).map_err(|e| {
            VaultError::Source(format!("could not read vault password file {shown}: {e}"))
        })?;
        data.trim_ascii().to_vec()
    };
    let password = trim_newlines(password);
    if password.is_empty() {
        return Err(VaultError::Source(format!(
            "an empty vault password was provided by {shown}"
        )));
    }
    Ok(password)
}

/// Runs a password script; a `*-client` script is told the vault id.
fn run_script(path: &Path, id: &str) -> Result<Vec<u8>, VaultError> {
    let shown = path.display();
    // Absolute, so a bare name is not looked up in $PATH.
    let mut command = std::process::Command::new(std::path::absolute(path).unwrap_or(path.into()));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.is_some_and(|s| s.ends_with("-client")) {
        command.args(["--vault-id", id]);
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| {
            VaultError::Source(format!(
                "problem running vault password script {shown} ({e}); if it is not a script, remove its executable bit"
            ))
        })?;
    if !output.status.success() {
        return Err(VaultError::Source(format!(
            "vault password script {shown} returned non-zero ({})",
            output.status.code().unwrap_or(-1)
        )));
    }
    Ok(output.stdout)
}

fn trim_newlines(mut data: Vec<u8>) -> Vec<u8> {
    while data.last().is_some_and(|b| matches!(b, b'\r' | b'\n')) {
        data.pop();
    }
    let start = data
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    data.drain(..start);
    data
}

/// Asks on the terminal, with Ansible's prompts.
fn ask(id: &str, ask_vault_pass: bool, prompt: Prompt) -> Result<Vec<u8>, VaultError> {
    let prompts: Vec<String> = match (prompt, ask_vault_pass) {
        (Prompt::Existing, true) => vec!["Vault password: ".into()],
        (Prompt::Existing, false) => vec![format!("Vault password ({id}): ")],
        (Prompt::New, true) => vec![
            "New Vault password: ".into(),
            "Confirm New Vault password: ".into(),
        ],
        (Prompt::New, false) => vec![
            format!("New vault password ({id}): "),
            format!("Confirm new vault password ({id}): "),
        ],
    };
    let mut answers = Vec::new();
    for text in prompts {
        let answer = rpassword::prompt_password(&text).map_err(|e| {
            VaultError::Source(format!(
                "cannot ask for the vault password ({e}): there is no terminal; \
                 pass --vault-password-file FILE or --vault-id label@FILE instead"
            ))
        })?;
        answers.push(answer.trim().as_bytes().to_vec());
    }
    if answers.iter().any(|a| a != &answers[0]) {
        return Err(VaultError::Source("passwords do not match".into()));
    }
    if answers[0].is_empty() {
        return Err(VaultError::Source(
            "an empty vault password was given".into(),
        ));
    }
    Ok(answers.swap_remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn files_scripts_and_labels_in_ansibles_order() {
        let dir = tempfile::tempdir().unwrap();
        let plain = file(dir.path(), "pw.txt", "  one  \n", 0o600);
        let script = file(dir.path(), "pw.sh", "#!/bin/sh\necho two\n", 0o700);
        let client = file(
            dir.path(),
            "vault-client.sh",
            "#!/bin/sh\necho \"pass-for-$2\"\n",
            0o700,
        );
        let sources = SecretSources {
            vault_ids: vec![
                format!("dev@{}", script.display()),
                format!("prod@{}", client.display()),
            ],
            password_files: vec![plain],
            identity_list: vec![],
            ..Default::default()
        };
        let keyring = sources.load(Prompt::Existing).unwrap();
        let got: Vec<(String, Vec<u8>)> = keyring
            .secrets
            .iter()
            .map(|s| (s.id.clone(), s.password.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("dev".into(), b"two".to_vec()),
                ("prod".into(), b"pass-for-prod".to_vec()),
                ("default".into(), b"one".to_vec()),
            ]
        );
        assert!(
            !format!("{keyring:?}").contains("two"),
            "Debug hides passwords"
        );
    }

    #[test]
    fn a_missing_source_warns_unless_it_is_the_only_one() {
        let dir = tempfile::tempdir().unwrap();
        let good = file(dir.path(), "pw.txt", "x\n", 0o600);
        let missing = dir.path().join("nope");
        let both = SecretSources {
            password_files: vec![missing.clone(), good],
            ..Default::default()
        };
        let keyring = both.load(Prompt::Existing).unwrap();
        assert_eq!(keyring.secrets.len(), 1);
        assert!(
            keyring.warnings[0].contains("was not found"),
            "{:?}",
            keyring.warnings
        );
        let only = SecretSources {
            password_files: vec![missing],
            ..Default::default()
        };
        let err = only.load(Prompt::Existing).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("was not found"),
            "{err}"
        );
        let empty = file(dir.path(), "empty.txt", "\n", 0o600);
        let err = SecretSources {
            password_files: vec![empty],
            ..Default::default()
        }
        .load(Prompt::Existing)
        .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let failing = file(dir.path(), "fail.sh", "#!/bin/sh\nexit 3\n", 0o700);
        let err = SecretSources {
            vault_ids: vec![format!("x@{}", failing.display())],
            ..Default::default()
        }
        .load(Prompt::Existing)
        .unwrap_err();
        assert!(err.to_string().contains("non-zero (3)"), "{err}");
    }

    #[test]
    fn matching_label_first_then_the_others() {
        let secret = VaultSecret::new("prod", b"p".to_vec());
        let text = Keyring::encrypt(&secret, b"data").unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        // The label is only a hint: a secret under another label still works.
        let keyring = Keyring::new(vec![
            VaultSecret::new("dev", b"d".to_vec()),
            VaultSecret::new("other", b"p".to_vec()),
        ]);
        assert_eq!(
            keyring.decrypt(&text).unwrap(),
            (b"data".to_vec(), "other".into())
        );
        let wrong = Keyring::new(vec![VaultSecret::new("prod", b"nope".to_vec())]);
        assert_eq!(wrong.decrypt(&text), Err(VaultError::WrongPassword));
        assert_eq!(
            Keyring::default().decrypt(&text),
            Err(VaultError::NoSecrets)
        );
    }

    #[test]
    fn choosing_the_secret_to_encrypt_with() {
        let one = Keyring::new(vec![VaultSecret::new("a", b"1".to_vec())]);
        assert_eq!(one.encrypt_secret(None).unwrap().id, "a");
        let two = Keyring::new(vec![
            VaultSecret::new("a", b"1".to_vec()),
            VaultSecret::new("b", b"2".to_vec()),
        ]);
        assert!(
            two.encrypt_secret(None)
                .unwrap_err()
                .to_string()
                .contains("--encrypt-vault-id")
        );
        assert_eq!(two.encrypt_secret(Some("b")).unwrap().id, "b");
        assert!(two.encrypt_secret(Some("c")).is_err());
        assert!(Keyring::encrypt(&one.secrets[0], b"$ANSIBLE_VAULT;1.1;AES256\n").is_err());
    }
}
