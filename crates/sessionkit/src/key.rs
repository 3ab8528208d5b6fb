//! Session keys: Django's 32 characters of `[a-z0-9]`, drawn from the OS CSPRNG.

/// Django's alphabet for session keys (`get_random_string` with lowercase and digits).
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a key sessionkit generates, as Django does.
pub const KEY_LENGTH: usize = 32;

/// A fresh random session key: 32 characters of `[a-z0-9]` (about 165 bits).
///
/// # Panics
/// Only if the operating system's random source fails, which leaves no safe way
/// to make a session key.
pub fn generate_key() -> String {
    let mut out = String::with_capacity(KEY_LENGTH);
    // Rejection sampling keeps the pick uniform: 252 = 7 * 36 is the largest
    // multiple of 36 that fits a byte.
    let mut pick = |b: u8| {
        if b < 252 && out.len() < KEY_LENGTH {
            out.push(ALPHABET[(b % 36) as usize] as char);
        }
        out.len() < KEY_LENGTH
    };
    // A thread exiting has no buffer left: straight from the OS then.
    if BUFFER
        .try_with(|buf| buf.borrow_mut().draw(&mut pick))
        .is_err()
    {
        let mut bytes = [0u8; 64];
        while {
            os_random(&mut bytes);
            bytes.iter().all(|&b| pick(b))
        } {}
    }
    out
}

/// Bytes from the OS random source, fetched a buffer at a time: one system
/// call per ~30 keys instead of one per key (on a VM the call costs more than
/// the rest of a new session). Each byte is used once and wiped as it is
/// taken; a process forked with a half-used buffer never uses its rest.
struct RandomBuffer {
    bytes: [u8; 1024],
    next: usize,
    pid: u32,
}

thread_local! {
    static BUFFER: std::cell::RefCell<RandomBuffer> = const {
        std::cell::RefCell::new(RandomBuffer { bytes: [0; 1024], next: 1024, pid: 0 })
    };
}

impl RandomBuffer {
    /// Gives bytes to `take` until it says it has enough.
    fn draw(&mut self, mut take: impl FnMut(u8) -> bool) {
        let pid = std::process::id();
        if pid != self.pid {
            // A fresh thread, or a forked child: the parent may use the rest.
            self.bytes.fill(0);
            self.next = self.bytes.len();
            self.pid = pid;
        }
        loop {
            if self.next == self.bytes.len() {
                os_random(&mut self.bytes);
                self.next = 0;
            }
            let b = std::mem::take(&mut self.bytes[self.next]);
            self.next += 1;
            if !take(b) {
                return;
            }
        }
    }
}

fn os_random(bytes: &mut [u8]) {
    getrandom::fill(bytes).expect("the OS random number generator failed");
}

/// Whether a cookie value may be a server-side session key: `[a-z0-9]{8,40}`.
///
/// Every key Django issues matches. This is stricter than Django's length-only
/// check on purpose: nothing else ever reaches a store (no path traversal, no
/// odd bytes in SQL or cache keys).
pub fn is_valid_key(value: &str) -> bool {
    (8..=40).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A short, non-reversible tag for a key or cookie value, safe to log.
///
/// Keys are credentials: logs get the first 8 hex digits of their SHA-256 only.
#[doc(hidden)] // tests match log lines with it: not an API
pub fn log_tag(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), KEY_LENGTH);
        assert!(is_valid_key(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn keys_stay_distinct_across_buffer_refills() {
        // 200 keys take ~6 KiB: several refills of the per-thread buffer.
        let keys: std::collections::HashSet<String> = (0..200).map(|_| generate_key()).collect();
        assert_eq!(keys.len(), 200);
        assert!(keys
            .iter()
            .all(|k| k.len() == KEY_LENGTH && is_valid_key(k)));
        // Every character of the alphabet turns up: no byte is stuck.
        let seen: std::collections::HashSet<u8> = keys.iter().flat_map(|k| k.bytes()).collect();
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key("abcdefgh"));
        assert!(is_valid_key(&"a".repeat(40)));
        assert!(!is_valid_key("abcdefg"));
        assert!(!is_valid_key(&"a".repeat(41)));
        assert!(!is_valid_key("../../etc/passwd"));
        assert!(!is_valid_key("ABCDEFGHIJ"));
        assert!(!is_valid_key("abcdéfghij"));
        assert!(!is_valid_key("abcd/efgh"));
    }

    #[test]
    fn log_tag_hides_the_value() {
        let tag = log_tag("zymlopifqy78f5m0nxynj3lvf7f4uzcr");
        assert_eq!(tag.len(), 8);
        assert!(!"zymlopifqy78f5m0nxynj3lvf7f4uzcr".contains(&tag));
    }
}
