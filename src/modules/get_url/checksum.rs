//! `checksum: sha256:…` and the digests of a download, computed as its
//! chunks pass through.

use crate::modules::TaskResult;
use crate::modules::remote_file::DIFF_MAX_BYTES;
use sha2::digest::DynDigest;

/// `checksum: sha256:abc…` (also md5, sha1, sha224, sha384, sha512).
pub struct Checksum {
    pub algorithm: String,
    hex: String,
}

impl Checksum {
    pub fn parse(text: &str) -> Result<Checksum, String> {
        let (algorithm, hex) = text.split_once(':').ok_or_else(|| {
            format!("checksum '{text}' must be <algorithm>:<hex digest>, e.g. sha256:9f86d0…")
        })?;
        let algorithm = algorithm.trim().to_ascii_lowercase();
        if hasher(&algorithm).is_none() {
            return Err(format!(
                "checksum algorithm '{algorithm}' is not one of md5, sha1, sha224, sha256, sha384, sha512"
            ));
        }
        Ok(Checksum {
            algorithm,
            hex: hex.trim().to_ascii_lowercase(),
        })
    }

    /// Whether the download's digest (`actual`, in this algorithm) matches.
    pub fn verify(&self, actual: &str, dest: &str) -> Result<(), TaskResult> {
        if actual == self.hex {
            return Ok(());
        }
        Err(TaskResult::failed(format!(
            "The checksum for {dest} did not match {}:{}; it was {actual}. Nothing was written",
            self.algorithm, self.hex
        )))
    }

    /// Hex digits in a digest of this algorithm.
    pub fn hex_len(&self) -> usize {
        hasher(&self.algorithm).map_or(0, |h| h.output_size() * 2)
    }
}

fn hasher(algorithm: &str) -> Option<Box<dyn DynDigest + Send>> {
    Some(match algorithm {
        "md5" => Box::new(md5::Md5::default()),
        "sha1" => Box::new(sha1::Sha1::default()),
        "sha224" => Box::new(sha2::Sha224::default()),
        "sha256" => Box::new(sha2::Sha256::default()),
        "sha384" => Box::new(sha2::Sha384::default()),
        "sha512" => Box::new(sha2::Sha512::default()),
        _ => return None,
    })
}

/// What is known of a download once all of it went by.
#[derive(Debug, Default)]
pub struct Sums {
    pub size: u64,
    /// sha1, to compare with the file already there.
    pub sha1: String,
    /// In the algorithm of `checksum:`, when given.
    pub digest: Option<String>,
    /// Its first bytes, for `--diff` (one past the limit shows a cut).
    pub head: Vec<u8>,
}

/// The digests of a download, fed chunk by chunk.
pub struct Hashes {
    sha1: Box<dyn DynDigest + Send>,
    expected: Option<Box<dyn DynDigest + Send>>,
    size: u64,
    head: Option<Vec<u8>>,
}

impl Hashes {
    /// `keep_head`: keep the first bytes for `--diff`.
    pub fn new(checksum: Option<&Checksum>, keep_head: bool) -> Hashes {
        Hashes {
            sha1: hasher("sha1").expect("sha1 is known"),
            expected: checksum.and_then(|c| hasher(&c.algorithm)),
            size: 0,
            head: keep_head.then(Vec::new),
        }
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.sha1.update(chunk);
        if let Some(h) = &mut self.expected {
            h.update(chunk);
        }
        self.size += chunk.len() as u64;
        if let Some(head) = &mut self.head {
            let room = (DIFF_MAX_BYTES + 1).saturating_sub(head.len());
            head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
    }

    pub fn finish(self) -> Sums {
        Sums {
            size: self.size,
            sha1: hex::encode(self.sha1.finalize()),
            digest: self.expected.map(|h| hex::encode(h.finalize())),
            head: self.head.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(checksum: &Checksum, chunks: &[&[u8]]) -> String {
        let mut hashes = Hashes::new(Some(checksum), false);
        for chunk in chunks {
            hashes.update(chunk);
        }
        hashes.finish().digest.unwrap()
    }

    #[test]
    fn checksums() {
        let c = Checksum::parse(
            "SHA256: 2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
        )
        .unwrap();
        assert_eq!(c.hex_len(), 64);
        assert!(c.verify(&digest_of(&c, &[b"he", b"llo"]), "/d").is_ok());
        let err = c.verify(&digest_of(&c, &[b"hellO"]), "/d").unwrap_err();
        assert!(err.msg.unwrap().contains("did not match"));
        assert!(Checksum::parse("nocolon").is_err());
        assert!(Checksum::parse("crc32:00").is_err());
        let md5 = Checksum::parse("md5:x").unwrap();
        assert_eq!(digest_of(&md5, &[]), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn sha1_size_and_a_bounded_head() {
        let mut hashes = Hashes::new(None, true);
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..3 {
            hashes.update(&chunk);
        }
        let sums = hashes.finish();
        assert_eq!(sums.size, 3 * 64 * 1024);
        assert_eq!(sums.head.len(), DIFF_MAX_BYTES + 1);
        assert_eq!(
            sums.sha1,
            crate::modules::remote_file::sha1_hex(&vec![b'a'; 3 * 64 * 1024])
        );
        assert_eq!(sums.digest, None);
    }
}
