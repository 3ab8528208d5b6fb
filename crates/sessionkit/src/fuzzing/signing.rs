//! The `fuzzing` shim inside `signing`: reaches the private `zlib` module.

use super::error::SigningError;
use super::zlib;

/// The cap on a decompressed payload ([`decompress_capped`] refuses more).
pub const MAX_DECOMPRESSED: usize = zlib::MAX_DECOMPRESSED;

/// `zlib.decompress(data)` with the crate's output cap.
pub fn decompress_capped(data: &[u8]) -> Result<Vec<u8>, SigningError> {
    zlib::decompress_capped(data)
}

/// The zlib stream of `raw` when it is shorter than `raw` (Django's rule).
pub fn compress_if_smaller(raw: &[u8]) -> Option<Vec<u8>> {
    zlib::compress_if_smaller(raw)
}
