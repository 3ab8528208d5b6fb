//! zlib for payloads: CPython's `zlib.compress` byte for byte, and a decompressor
//! with a size cap.

use std::cell::Cell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::error::{MalformedKind, SigningError};

/// Most bytes a compressed payload may inflate to. Django has no cap (the HMAC
/// is its only zip-bomb defence); a session this large is a mistake or an attack.
pub(crate) const MAX_DECOMPRESSED: usize = 5 * 1024 * 1024;

/// `zlib.compress(raw)` (level 6, 32 KiB window, memLevel 8 — CPython's call),
/// but only when Django would use it: at least 2 bytes shorter than `raw`.
pub(crate) fn compress_if_smaller(raw: &[u8]) -> Option<Vec<u8>> {
    // Django keeps the result iff `len(c) < len(raw) - 1`.
    let limit = raw.len().checked_sub(2)?;
    if cannot_shrink_to(raw, limit) {
        return None;
    }
    // A buffer of exactly `limit` bytes: a stream that does not finish inside it
    // is too long to be used, so there is no need to produce the rest.
    let mut out = Vec::with_capacity(limit);
    let status = with_deflate(|z| z.compress_vec(raw, &mut out, FlushCompress::Finish));
    match status {
        Ok(Status::StreamEnd) => Some(out),
        _ => None,
    }
}

thread_local! {
    /// One deflate state per thread, reset between uses. A fresh one allocates
    /// 256 KiB that the allocator hands back to the OS on drop, so every session
    /// save paid for page faults; `deflateReset` only clears the hash heads and
    /// gives the same output as a fresh state.
    static DEFLATE: Cell<Option<Compress>> = const { Cell::new(None) };
}

fn with_deflate<R>(f: impl FnOnce(&mut Compress) -> R) -> R {
    // Taken out of the slot while in use: a nested or post-exit call simply
    // gets a fresh state.
    let mut slot = DEFLATE.try_with(Cell::take).ok().flatten();
    let z = match slot.as_mut() {
        Some(z) => {
            z.reset();
            z
        }
        None => slot.insert(Compress::new(Compression::new(6), true)),
    };
    let result = f(z);
    let _ = DEFLATE.try_with(|cell| cell.set(slot));
    result
}

/// Whether every zlib stream of `raw` is provably longer than `limit` bytes.
///
/// Setting up a zlib stream costs microseconds (256 KiB of state) — more than
/// the whole rest of encoding a small session — and small JSON never shrinks, so
/// a sound lower bound on the stream size answers "no" without calling zlib.
/// The bound: 6 bytes of zlib header and Adler-32, then one deflate block (zlib
/// emits a single block for inputs this small). Each distinct byte value must
/// appear once as a literal, since matches copy earlier output. A fixed-Huffman
/// block needs ≥ 3 header bits, ≥ 8 bits per literal and a 7-bit end code. A
/// dynamic block needs ≥ 31 header bits (29 fixed plus at least two code-length
/// symbols for its ≥ 258 code lengths) and, by Kraft's inequality, ≥ m·log2(m)
/// bits for its m = distinct + 1 used symbols. A stored block is never shorter
/// than its input.
fn cannot_shrink_to(raw: &[u8], limit: usize) -> bool {
    // Far below zlib's 16 K-symbol block size, so the one-block argument holds.
    if raw.len() > 512 {
        return false;
    }
    let mut seen = [false; 256];
    let mut distinct = 0usize;
    for &b in raw {
        if !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    let fixed_bits = 3 + 8 * distinct + 7;
    let m = (distinct + 1) as f64;
    // Rounded down (and a little less) so float error can only weaken the bound.
    let dynamic_bits = 31 + (m * m.log2() - 1e-6).floor().max(0.0) as usize;
    let min_bits = fixed_bits.min(dynamic_bits);
    6 + min_bits.div_ceil(8) > limit
}

/// `zlib.decompress(data)`, refusing truncated streams and output beyond
/// [`MAX_DECOMPRESSED`].
pub(crate) fn decompress_capped(data: &[u8]) -> Result<Vec<u8>, SigningError> {
    let mut z = Decompress::new(true);
    let mut out: Vec<u8> = Vec::with_capacity((data.len() * 4).clamp(64, MAX_DECOMPRESSED));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= MAX_DECOMPRESSED {
                return Err(SigningError::malformed(MalformedKind::TooLarge));
            }
            out.reserve_exact(out.len().min(MAX_DECOMPRESSED - out.len()));
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let consumed = usize::try_from(in_before)
            .unwrap_or(data.len())
            .min(data.len());
        let status = z
            .decompress_vec(&data[consumed..], &mut out, FlushDecompress::Finish)
            .map_err(|e| SigningError::malformed_by(MalformedKind::Zlib, e))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        let stalled = z.total_in() == in_before && z.total_out() == out_before;
        if stalled && out.len() < out.capacity() {
            // Input exhausted with room to spare: the stream is truncated.
            return Err(SigningError::malformed(MalformedKind::Zlib));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_zlib_len(raw: &[u8]) -> usize {
        let mut z = Compress::new(Compression::new(6), true);
        let mut out = Vec::with_capacity(raw.len() + 64);
        let status = z.compress_vec(raw, &mut out, FlushCompress::Finish);
        assert!(matches!(status, Ok(Status::StreamEnd)));
        out.len()
    }

    /// The shortcut must never skip a compression Django would have used.
    #[test]
    fn lower_bound_is_sound() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabets: [&[u8]; 4] = [b"a", b"ab", b"{\"visit\":1234567890}", &[0u8, 255, 7, 128]];
        for round in 0..20_000 {
            let alphabet = alphabets[round % alphabets.len()];
            let len = (next() % 80) as usize + 1;
            let raw: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let limit = raw.len().saturating_sub(2);
            if raw.len() >= 2 && cannot_shrink_to(&raw, limit) {
                assert!(real_zlib_len(&raw) > limit, "bound wrong for {raw:?}");
            }
        }
        // Long runs of one byte are where the bound is weakest.
        for len in 1..=512 {
            let raw = vec![b'x'; len];
            if len >= 2 && cannot_shrink_to(&raw, len - 2) {
                assert!(real_zlib_len(&raw) > len - 2, "bound wrong for {len} x");
            }
        }
    }

    #[test]
    fn small_sessions_skip_zlib() {
        assert!(cannot_shrink_to(br#"{"visit":11}"#, 10));
        assert_eq!(compress_if_smaller(br#"{"visit":11}"#), None);
        assert_eq!(compress_if_smaller(b""), None);
        assert_eq!(compress_if_smaller(b"x"), None);
    }

    #[test]
    fn round_trip_and_caps() {
        let raw = vec![b'a'; 10_000];
        let c = compress_if_smaller(&raw).expect("repetitive data shrinks");
        assert_eq!(decompress_capped(&c).ok(), Some(raw));
        assert!(decompress_capped(&c[..c.len() - 5]).is_err());
        assert!(decompress_capped(b"not zlib").is_err());
        assert!(decompress_capped(b"").is_err());

        let bomb = compress_if_smaller(&vec![0u8; MAX_DECOMPRESSED + 1]).expect("zeros shrink");
        let err = decompress_capped(&bomb).err();
        assert!(matches!(
            err,
            Some(SigningError::Malformed(ref m)) if m.kind() == MalformedKind::TooLarge
        ));
        let exact = compress_if_smaller(&vec![0u8; MAX_DECOMPRESSED]).expect("zeros shrink");
        assert_eq!(
            decompress_capped(&exact).map(|v| v.len()).ok(),
            Some(MAX_DECOMPRESSED)
        );
    }
}
