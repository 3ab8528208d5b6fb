//! `SESSION_COOKIE_AGE` bounds (review L2a): a value that would overflow a
//! date on some request is refused at start-up, naming the variable.

use sessionkit::config::{ConfigError, SessionConfig};
use sessionkit::expiry::MAX_OFFSET_SECONDS;

const SECRET: &str = "s3cr3t-Value-that-is-long-enough-to-pass-W009-0123456789";

fn with_age(age: &str) -> Result<SessionConfig, ConfigError> {
    SessionConfig::from_lookup(|name| match name {
        "SECRET_KEY" => Some(SECRET.to_owned()),
        "SESSION_COOKIE_AGE" => Some(age.to_owned()),
        _ => None,
    })
}

#[test]
fn ages_that_overflow_a_date_are_refused() {
    for age in [
        "-1",
        "250000000000",
        "9223372036854775807",
        "-9223372036854775808",
        &(MAX_OFFSET_SECONDS + 1).to_string(),
    ] {
        let err = with_age(age).expect_err(age);
        let ConfigError::Invalid { variable, reason } = &err else {
            panic!("{age}: expected Invalid, got {err:?}");
        };
        assert_eq!(*variable, "SESSION_COOKIE_AGE", "{age}");
        assert!(reason.contains("from 0 to"), "{age}: {reason}");
        assert!(err.to_string().contains("SESSION_COOKIE_AGE"), "{err}");
    }
}

#[test]
fn usable_ages_are_kept() {
    for age in [0, 60, 1_209_600, 10 * 365 * 86_400, MAX_OFFSET_SECONDS] {
        let config = with_age(&age.to_string()).expect("valid age");
        assert_eq!(config.cookie_age, age);
    }
}
