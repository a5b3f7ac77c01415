//! Ansible Vault: decrypting vaulted files and `!vault` values wherever
//! Ansible does, encrypting for `rollout vault`, and keeping what was
//! decrypted out of every output.
//!
//! - [`format`]: the `$ANSIBLE_VAULT;1.1;AES256` envelope.
//! - [`cipher`]: PBKDF2 + AES-256-CTR + HMAC-SHA256.
//! - [`secrets`]: password sources and the keyring that tries them.
//! - [`redact`]: the decrypted values, masked by the outputs.
//!
//! The run's keyring is installed once ([`install`]) before anything is
//! loaded; every reader of var files and controller-side sources goes
//! through [`read_file`] / [`read_to_string`], and the YAML parser calls
//! [`decrypt_inline`] for `!vault` scalars. This module imports nothing
//! of ours, so the YAML layer can use it.

pub mod cipher;
pub mod format;
pub mod redact;
pub mod secrets;

pub use secrets::{Keyring, Prompt, SecretSources, VaultSecret};

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The label of a secret given without one.
pub const DEFAULT_ID: &str = "default";

/// What the help of a "no password" error says to do.
pub const PASSWORD_HELP: &str =
    "pass --vault-password-file FILE, --vault-id label@FILE or --ask-vault-pass";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("vault format error: {0}")]
    Format(String),
    #[error("it is vault-encrypted and no vault password was given")]
    NoSecrets,
    #[error("decryption failed: no vault password given could decrypt it (HMAC mismatch)")]
    WrongPassword,
    /// A password source could not be read.
    #[error("{0}")]
    Source(String),
    /// A choice the command line has to make.
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Io(String),
}

impl VaultError {
    /// What to do about it, for decryption errors.
    pub fn help(&self) -> Option<&'static str> {
        match self {
            VaultError::NoSecrets => Some(PASSWORD_HELP),
            VaultError::WrongPassword => {
                Some("check the vault password (or the --vault-id label) given for it")
            }
            _ => None,
        }
    }
}

/// A file that could not be read or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read '{}': {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("cannot decrypt '{}': {error}", path.display())]
    Vault { path: PathBuf, error: VaultError },
}

impl ReadError {
    pub fn help(&self) -> Option<&'static str> {
        match self {
            ReadError::Vault { error, .. } => error.help(),
            ReadError::Io { .. } => None,
        }
    }
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Makes `keyring` the run's vault passwords.
pub fn install(keyring: Keyring) {
    *KEYRING.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keyring));
}

fn keyring() -> Arc<Keyring> {
    KEYRING
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Decrypts vault text with the run's keyring; the plaintext is masked
/// in outputs from then on.
pub fn decrypt(text: &str) -> Result<Vec<u8>, VaultError> {
    let (plain, _) = keyring().decrypt(text)?;
    Ok(plain)
}

/// A `!vault` scalar's value.
pub fn decrypt_inline(text: &str) -> Result<String, VaultError> {
    let plain = String::from_utf8(decrypt(text)?)
        .map_err(|_| VaultError::Format("the decrypted value is not UTF-8 text".into()))?;
    redact::register(&plain);
    Ok(plain)
}

/// A file's bytes, decrypted when it is vault data. A decrypted file's
/// values (read as YAML when they are) are masked in outputs from then on.
pub fn read_file(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_tracked(path).map(|(data, _)| data)
}

/// [`read_file`], and whether the file was vault data.
pub fn read_tracked(path: &Path) -> Result<(Vec<u8>, bool), ReadError> {
    let data = std::fs::read(path).map_err(|e| ReadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if !format::is_encrypted(&data) {
        return Ok((data, false));
    }
    let vault_error = |error| ReadError::Vault {
        path: path.to_path_buf(),
        error,
    };
    let text = std::str::from_utf8(&data)
        .map_err(|_| vault_error(VaultError::Format("the envelope is not ASCII".into())))?;
    let plain = decrypt(text).map_err(vault_error)?;
    match std::str::from_utf8(&plain) {
        Ok(text) => redact::register_document(text),
        Err(_) => redact::register(&String::from_utf8_lossy(&plain)),
    }
    Ok((plain, true))
}

/// [`read_file`] as UTF-8 text.
pub fn read_to_string(path: &Path) -> Result<String, ReadError> {
    String::from_utf8(read_file(path)?).map_err(|_| ReadError::Io {
        path: path.to_path_buf(),
        message: "it is not UTF-8 text".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_files_pass_through_and_corrupt_ones_fail() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.yml");
        std::fs::write(&plain, "a: 1\n").unwrap();
        assert_eq!(read_to_string(&plain).unwrap(), "a: 1\n");
        let corrupt = dir.path().join("corrupt.yml");
        std::fs::write(&corrupt, "$ANSIBLE_VAULT;1.1;AES256\nnothex\n").unwrap();
        let err = read_file(&corrupt).unwrap_err();
        assert!(
            matches!(
                &err,
                ReadError::Vault {
                    error: VaultError::Format(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("corrupt.yml"), "{err}");
        let missing = read_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(missing, ReadError::Io { .. }));
    }
}
