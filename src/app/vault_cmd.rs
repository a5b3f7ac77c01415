//! `rollout vault …`: ansible-vault's encrypt, decrypt, view, edit and
//! encrypt_string, reading and writing the same files; and the vault
//! passwords of a `rollout play`.

use crate::cli::{VaultArgs, VaultCommand, VaultFilesArgs, VaultStringArgs};
use crate::diag::Diagnostic;
use crate::error::{Error, exit};
use crate::vault::{Keyring, Prompt, SecretSources, VaultError, VaultSecret};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where a run's vault passwords come from: the command line, and
/// ansible.cfg's `vault_identity_list` / `vault_password_file` (pass
/// `Vec::new()` / `None` without them), which the environment
/// (`ANSIBLE_VAULT_IDENTITY_LIST`, `ANSIBLE_VAULT_PASSWORD_FILE`)
/// overrides, as in Ansible.
pub fn sources(
    args: &VaultArgs,
    configured_identity_list: Vec<String>,
    configured_password_file: Option<PathBuf>,
) -> SecretSources {
    SecretSources {
        vault_ids: args.vault_ids.clone(),
        password_files: args.vault_password_files.clone(),
        ask_vault_pass: args.ask_vault_pass,
        identity_list: configured_identity_list,
        config_password_file: configured_password_file,
    }
    .with_env()
}

/// Reads the passwords of a `rollout play` up front (as ansible-playbook:
/// `--ask-vault-pass` asks before anything is loaded) and installs them.
pub fn install_play_secrets(sources: &SecretSources) -> Result<(), Error> {
    if sources.is_empty() {
        return Ok(());
    }
    let keyring = sources.load(Prompt::Existing).map_err(vault_error)?;
    warn(&keyring);
    crate::vault::install(keyring);
    Ok(())
}

fn warn(keyring: &Keyring) {
    for warning in &keyring.warnings {
        eprintln!("[WARNING]: {warning}");
    }
}

/// A choice the command line must make exits 5; a password source that
/// cannot be read (missing file, failing script, no terminal) exits 1,
/// as in Ansible.
fn vault_error(e: VaultError) -> Error {
    let d = Diagnostic::new(e.to_string()).with_help_if(e.help());
    match e {
        VaultError::Options(_) => Error::Options(d),
        _ => Error::Internal(d),
    }
}

fn failure(message: impl Into<String>) -> Error {
    Error::Internal(Diagnostic::new(message))
}

pub fn run(command: VaultCommand) -> Result<i32, Error> {
    match command {
        VaultCommand::Encrypt(args) => encrypt(&args),
        VaultCommand::Decrypt(args) => decrypt(&args, Output::Write),
        VaultCommand::View(args) => decrypt(&args, Output::Stdout),
        VaultCommand::Edit(args) => edit(&args),
        VaultCommand::EncryptString(args) => encrypt_string(&args),
    }?;
    Ok(exit::OK)
}

/// The keyring for a vault command: with no source given, ansible-vault
/// asks on the terminal.
fn keyring(args: &VaultArgs, prompt: Prompt) -> Result<Keyring, Error> {
    let mut sources = sources(args, Vec::new(), None);
    if sources.is_empty() {
        sources.ask_vault_pass = true;
    }
    let keyring = sources.load(prompt).map_err(vault_error)?;
    warn(&keyring);
    if keyring.is_empty() {
        return Err(Error::Options(Diagnostic::new(
            "a vault password is required to use Ansible's Vault",
        )));
    }
    Ok(keyring)
}

fn encrypting_secret(keyring: &Keyring, id: Option<&str>) -> Result<VaultSecret, Error> {
    keyring.encrypt_secret(id).cloned().map_err(vault_error)
}

/// The inputs: the files named, or stdin.
fn inputs(args: &VaultFilesArgs) -> Result<Vec<PathBuf>, Error> {
    if args.common.output.is_some() && args.files.len() > 1 {
        return Err(Error::Options(Diagnostic::new(
            "at most one input file may be used with the --output option",
        )));
    }
    Ok(if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    })
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn read_input(path: &Path) -> Result<Vec<u8>, Error> {
    if is_stdio(path) {
        let mut data = Vec::new();
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| failure(format!("cannot read stdin: {e}")))?;
        return Ok(data);
    }
    std::fs::read(path).map_err(|e| {
        failure(format!(
            "unable to read source file ({}): {e}",
            path.display()
        ))
    })
}

/// Writes `data` to stdout, or to `path` through a private temporary file
/// renamed over it (mode 0600, as ansible-vault's files).
fn write_output(path: &Path, data: &[u8]) -> Result<(), Error> {
    if is_stdio(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(|e| failure(format!("cannot write stdout: {e}")));
    }
    // A symlink is followed, as ansible-vault does: its target is rewritten.
    let path = &std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    // A symlink is followed, as ansible-vault does: its target is rewritten.
    let path = &std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let fail = |e: std::io::Error| failure(format!("cannot write '{}': {e}", path.display()));
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(data).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn encrypt(args: &VaultFilesArgs) -> Result<(), Error> {
    let keyring = keyring(&args.common.vault, Prompt::New)?;
    let secret = encrypting_secret(&keyring, args.common.encrypt_vault_id.as_deref())?;
    for file in inputs(args)? {
        let plain = read_input(&file)?;
        let text = Keyring::encrypt(&secret, &plain).map_err(|e| failure(e.to_string()))?;
        write_output(
            args.common.output.as_deref().unwrap_or(&file),
            text.as_bytes(),
        )?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    /// decrypt: in place, or to --output.
    Write,
    /// view: to stdout.
    Stdout,
}

fn decrypt_input(keyring: &Keyring, file: &Path) -> Result<(Vec<u8>, String), Error> {
    let data = read_input(file)?;
    let text = String::from_utf8_lossy(&data);
    keyring.decrypt(&text).map_err(|e| {
        Error::Internal(
            Diagnostic::new(format!("{e} for {}", file.display())).with_help_if(e.help()),
        )
    })
}

fn decrypt(args: &VaultFilesArgs, output: Output) -> Result<(), Error> {
    let keyring = keyring(&args.common.vault, Prompt::Existing)?;
    for file in inputs(args)? {
        let (plain, _) = decrypt_input(&keyring, &file)?;
        let target = match output {
            Output::Stdout => Path::new("-"),
            Output::Write => args.common.output.as_deref().unwrap_or(&file),
        };
        write_output(target, &plain)?;
    }
    Ok(())
}

/// Decrypts to a private temporary file, runs `$EDITOR` on it, and
/// encrypts it back (same label) when it changed.
fn edit(args: &VaultFilesArgs) -> Result<(), Error> {
    let keyring = keyring(&args.common.vault, Prompt::Existing)?;
    for file in &args.files {
        let (plain, used_id) = decrypt_input(&keyring, file)?;
        let original = std::fs::read_to_string(file).unwrap_or_default();
        let label = crate::vault::format::parse(&original)
            .ok()
            .and_then(|e| e.vault_id)
            .unwrap_or_else(|| crate::vault::DEFAULT_ID.to_string());
        let password = keyring
            .password_of(&used_id)
            .ok_or_else(|| failure(format!("no vault secret labelled '{used_id}'")))?;
        let secret = VaultSecret::new(label, password.to_vec());
        let dir = tempfile::tempdir()
            .map_err(|e| failure(format!("cannot make a temporary directory: {e}")))?;
        let tmp = dir.path().join(file.file_name().unwrap_or_default());
        write_private(&tmp, &plain)?;
        run_editor(&tmp)?;
        let edited = std::fs::read(&tmp)
            .map_err(|e| failure(format!("cannot read the edited file: {e}")))?;
        if edited != plain {
            let text = Keyring::encrypt(&secret, &edited).map_err(|e| failure(e.to_string()))?;
            write_output(file, text.as_bytes())?;
        }
    }
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| failure(format!("cannot write '{}': {e}", path.display())))?;
    file.write_all(data)
        .map_err(|e| failure(format!("cannot write '{}': {e}", path.display())))
}

fn run_editor(path: &Path) -> Result<(), Error> {
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    let mut words = shell_words::split(&editor)
        .map_err(|e| failure(format!("cannot parse $EDITOR '{editor}': {e}")))?;
    if words.is_empty() {
        words.push("vi".into());
    }
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(path)
        .status()
        .map_err(|e| failure(format!("unable to execute the command \"{editor}\": {e}")))?;
    if !status.success() {
        return Err(failure(format!(
            "the editor \"{editor}\" exited with {status}"
        )));
    }
    Ok(())
}

fn encrypt_string(args: &VaultStringArgs) -> Result<(), Error> {
    let keyring = keyring(&args.common.vault, Prompt::New)?;
    let secret = encrypting_secret(&keyring, args.common.encrypt_vault_id.as_deref())?;
    let mut plaintexts: Vec<(Option<String>, String)> = Vec::new();
    let from_args: Vec<&String> = args.strings.iter().filter(|s| *s != "-").collect();
    if args.strings.iter().any(|s| s == "-") || args.stdin_name.is_some() || args.strings.is_empty()
    {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| failure(format!("cannot read stdin: {e}")))?;
        if text.is_empty() {
            return Err(Error::Options(Diagnostic::new(
                "stdin was empty, not encrypting",
            )));
        }
        plaintexts.push((args.stdin_name.clone(), text));
    }
    for (i, text) in from_args.iter().enumerate() {
        if text.is_empty() {
            return Err(Error::Options(Diagnostic::new(
                "the plaintext provided from the command line args was empty, not encrypting",
            )));
        }
        plaintexts.push((args.names.get(i).cloned(), text.to_string()));
    }
    let mut out = Vec::new();
    for (name, text) in plaintexts {
        let vaulted =
            Keyring::encrypt(&secret, text.as_bytes()).map_err(|e| failure(e.to_string()))?;
        out.push(yaml_block(name.as_deref(), &vaulted));
    }
    out.push(String::new());
    write_output(
        args.common.output.as_deref().unwrap_or(Path::new("-")),
        out.join("\n").as_bytes(),
    )
}

/// `name: !vault |` and the envelope indented by 10, as ansible-vault
/// prints it.
fn yaml_block(name: Option<&str>, vaulted: &str) -> String {
    let mut lines = vec![match name {
        Some(name) => format!("{name}: !vault |"),
        None => "!vault |".to_string(),
    }];
    lines.extend(vaulted.lines().map(|l| format!("{:10}{l}", "")));
    lines.join("\n")
}
