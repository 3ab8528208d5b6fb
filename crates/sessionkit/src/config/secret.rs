//! Django's deploy check on secret keys (`security.W009`, and `W025` for the
//! fallbacks): a weak key still works, but is reported at start-up.

/// Django's `SECRET_KEY_MIN_LENGTH`.
const MIN_LENGTH: usize = 50;
/// Django's `SECRET_KEY_MIN_UNIQUE_CHARACTERS`.
const MIN_UNIQUE: usize = 5;
/// The prefix of keys made by `django-admin startproject`.
const INSECURE_PREFIX: &str = "django-insecure-";

/// Why `secret` is weak by Django's W009 rules: shorter than 50 characters,
/// fewer than 5 distinct characters, or the `django-insecure-` prefix. Empty
/// when the secret is strong. The reasons never quote the secret.
pub fn secret_warnings(secret: &str) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    // Python's `len` counts code points, not bytes.
    if secret.chars().count() < MIN_LENGTH {
        reasons.push("shorter than 50 characters");
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_UNIQUE {
        reasons.push("fewer than 5 distinct characters");
    }
    if secret.starts_with(INSECURE_PREFIX) {
        reasons.push("starts with \"django-insecure-\"");
    }
    reasons
}

/// Logs Django's W009 reasons for the current key, never the key.
pub(super) fn warn_if_weak(current: &str) {
    let reasons = secret_warnings(current);
    if !reasons.is_empty() {
        tracing::warn!(
            reasons = ?reasons,
            "SECRET_KEY is weak (Django security.W009): use a long random value"
        );
    }
}

/// Logs Django's W025 reasons for each fallback key, by position.
pub(super) fn warn_if_weak_fallbacks(fallbacks: &[String]) {
    for (index, fallback) in fallbacks.iter().enumerate() {
        let reasons = secret_warnings(fallback);
        if !reasons.is_empty() {
            tracing::warn!(
                index,
                reasons = ?reasons,
                "a SECRET_KEY_FALLBACKS entry is weak (Django security.W025)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_code_points_like_python() {
        let wide = "é".repeat(25) + &"abcde".repeat(5);
        assert_eq!(wide.chars().count(), 50);
        assert!(secret_warnings(&wide).is_empty());
    }
}
