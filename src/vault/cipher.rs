//! AES256 as Ansible Vault uses it: PBKDF2-HMAC-SHA256 (10000 rounds)
//! derives 80 bytes (an AES key, an HMAC key, a CTR counter block); the
//! PKCS#7-padded plaintext is encrypted with AES-256-CTR and the
//! ciphertext signed with HMAC-SHA256, checked before anything is
//! decrypted.

use super::VaultError;
use super::format::Envelope;
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const ROUNDS: u32 = 10_000;
const KEY_LEN: usize = 32;
const BLOCK: usize = 16;
const SALT_LEN: usize = 32;

struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    counter: [u8; BLOCK],
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = [0u8; 2 * KEY_LEN + BLOCK];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, ROUNDS, &mut out);
    let mut keys = Keys {
        cipher: [0; KEY_LEN],
        mac: [0; KEY_LEN],
        counter: [0; BLOCK],
    };
    keys.cipher.copy_from_slice(&out[..KEY_LEN]);
    keys.mac.copy_from_slice(&out[KEY_LEN..2 * KEY_LEN]);
    keys.counter.copy_from_slice(&out[2 * KEY_LEN..]);
    keys
}

fn mac(key: &[u8], data: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(data);
    mac
}

fn apply_ctr(keys: &Keys, data: &mut [u8]) {
    let mut ctr = Aes256Ctr::new(&keys.cipher.into(), &keys.counter.into());
    ctr.apply_keystream(data);
}

/// Encrypts with a fresh random salt from the OS.
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    vault_id: Option<&str>,
) -> Result<Envelope, VaultError> {
    let mut salt = vec![0u8; SALT_LEN];
    getrandom::fill(&mut salt)
        .map_err(|e| VaultError::Io(format!("cannot get random bytes from the OS: {e}")))?;
    Ok(encrypt_with_salt(plaintext, password, vault_id, salt))
}

fn encrypt_with_salt(
    plaintext: &[u8],
    password: &[u8],
    vault_id: Option<&str>,
    salt: Vec<u8>,
) -> Envelope {
    let keys = derive(password, &salt);
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = plaintext.to_vec();
    data.extend(std::iter::repeat_n(pad as u8, pad));
    apply_ctr(&keys, &mut data);
    let hmac = mac(&keys.mac, &data).finalize().into_bytes().to_vec();
    Envelope {
        vault_id: vault_id.map(String::from),
        salt,
        hmac,
        ciphertext: data,
    }
}

/// Decrypts with one password. [`VaultError::WrongPassword`] when the
/// HMAC does not match (nothing is decrypted then).
pub fn decrypt(envelope: &Envelope, password: &[u8]) -> Result<Vec<u8>, VaultError> {
    let keys = derive(password, &envelope.salt);
    mac(&keys.mac, &envelope.ciphertext)
        .verify_slice(&envelope.hmac)
        .map_err(|_| VaultError::WrongPassword)?;
    let mut data = envelope.ciphertext.clone();
    apply_ctr(&keys, &mut data);
    let pad = data.last().copied().unwrap_or(0) as usize;
    let valid = (1..=BLOCK).contains(&pad)
        && pad <= data.len()
        && data[data.len() - pad..].iter().all(|b| *b as usize == pad);
    if !valid {
        return Err(VaultError::Format(
            "the decrypted data has no valid padding".into(),
        ));
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = vec![b'x'; len];
            let env = encrypt(&plain, b"pw", None).unwrap();
            assert_eq!(env.ciphertext.len() % BLOCK, 0);
            assert!(env.ciphertext.len() > len, "PKCS#7 always pads");
            assert_eq!(decrypt(&env, b"pw").unwrap(), plain);
        }
    }

    #[test]
    fn salts_differ_between_encryptions() {
        let a = encrypt(b"same", b"pw", None).unwrap();
        let b = encrypt(b"same", b"pw", None).unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn wrong_password_or_tampered_data_fail_the_hmac() {
        let env = encrypt(b"secret", b"right", None).unwrap();
        assert_eq!(decrypt(&env, b"wrong"), Err(VaultError::WrongPassword));
        let mut tampered = env.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(decrypt(&tampered, b"right"), Err(VaultError::WrongPassword));
        let mut bad_mac = env;
        bad_mac.hmac[31] ^= 1;
        assert_eq!(decrypt(&bad_mac, b"right"), Err(VaultError::WrongPassword));
    }

    #[test]
    fn same_salt_gives_ansibles_layout() {
        // A fixed salt makes the output deterministic: 32 bytes of HMAC,
        // ciphertext = plaintext padded to the block.
        let env = encrypt_with_salt(b"abc", b"pw", Some("dev"), vec![7; SALT_LEN]);
        assert_eq!(env.hmac.len(), 32);
        assert_eq!(env.ciphertext.len(), BLOCK);
        assert_eq!(
            env,
            encrypt_with_salt(b"abc", b"pw", Some("dev"), vec![7; SALT_LEN])
        );
    }
}
