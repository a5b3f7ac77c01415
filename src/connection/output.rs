//! Command output kept in memory, bounded: the first [`OUTPUT_CAP`] bytes of
//! each stream, plus a short moving tail where end-of-command marks are
//! searched; what lies between is counted and dropped.

/// Output kept per stream and command (Ansible keeps it all; a runaway
/// `cat` of a log must not exhaust the controller's memory).
pub const OUTPUT_CAP: usize = 10 << 20;

/// The last bytes kept past the cap, where a mark ending the output is
/// still found.
const TAIL: usize = 4096;

/// One output stream as it arrives.
#[derive(Debug, Default)]
pub struct Capped {
    bytes: Vec<u8>,
    cap: usize,
    dropped: bool,
}

impl Capped {
    pub fn new() -> Capped {
        Capped::with_cap(OUTPUT_CAP)
    }

    fn with_cap(cap: usize) -> Capped {
        Capped {
            bytes: Vec::new(),
            cap,
            dropped: false,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if self.bytes.len() > self.cap + 2 * TAIL {
            let end = self.bytes.len() - TAIL;
            self.bytes.drain(self.cap..end);
            self.dropped = true;
        }
    }

    /// The output up to `end` (a position in what [`Self::bytes`] shows),
    /// cut at the cap, and whether anything was cut.
    pub fn finish(mut self, end: usize) -> (Vec<u8>, bool) {
        self.bytes.truncate(end);
        let cut = self.dropped || self.bytes.len() > self.cap;
        self.bytes.truncate(self.cap);
        (self.bytes, cut)
    }

    /// The whole output, cut at the cap.
    pub fn finish_all(self) -> (Vec<u8>, bool) {
        let len = self.bytes.len();
        self.finish(len)
    }
}

impl std::ops::Deref for Capped {
    type Target = [u8];
    /// The head, then (once past the cap) the recent tail.
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_and_finds_a_mark_in_the_tail() {
        let mut out = Capped::with_cap(10);
        for _ in 0..5000 {
            out.push(b"0123456789");
        }
        out.push(b"END");
        assert!(out.len() <= 10 + 2 * TAIL);
        let end = out.len() - 3;
        assert_eq!(&out[end..], b"END");
        let (kept, cut) = out.finish(end);
        assert_eq!((kept.as_slice(), cut), (&b"0123456789"[..], true));

        let mut small = Capped::with_cap(10);
        small.push(b"0123456789");
        assert_eq!(small.finish_all(), (b"0123456789".to_vec(), false));
    }
}
