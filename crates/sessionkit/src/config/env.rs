//! Reading settings from environment variables, Django's names and defaults.
//!
//! Values are looked up through a function so tests never touch the process
//! environment. A variable that is unset or blank keeps Django's default
//! (`SECRET_KEY` aside, where blank is refused); a bad value is an error that
//! names the variable.

use super::{ConfigError, SameSite};

/// Where settings come from: `Ok(None)` for an unset variable.
pub(super) type Source<'a> = &'a dyn Fn(&'static str) -> Result<Option<String>, ConfigError>;

/// The process environment; a value that is not Unicode is an error rather
/// than a silently mangled setting.
pub(super) fn process_env(name: &'static str) -> Result<Option<String>, ConfigError> {
    match std::env::var_os(name) {
        None => Ok(None),
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|_| ConfigError::invalid(name, "not valid Unicode")),
    }
}

/// A lookup that cannot fail, as `from_lookup` takes it.
pub(super) fn infallible(
    get: impl Fn(&str) -> Option<String>,
) -> impl Fn(&'static str) -> Result<Option<String>, ConfigError> {
    move |name| Ok(get(name))
}

/// The trimmed value, or `None` when unset or blank.
pub(super) fn text(src: Source<'_>, name: &'static str) -> Result<Option<String>, ConfigError> {
    Ok(src(name)?
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty()))
}

/// `true/false/1/0`, in any case.
pub(super) fn boolean(src: Source<'_>, name: &'static str) -> Result<Option<bool>, ConfigError> {
    let Some(value) = text(src, name)? else {
        return Ok(None);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(ConfigError::invalid(
            name,
            format!("expected true, false, 1 or 0, got {value:?}"),
        )),
    }
}

/// A whole number of the target type.
pub(super) fn integer<T: std::str::FromStr>(
    src: Source<'_>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    let Some(value) = text(src, name)? else {
        return Ok(None);
    };
    value
        .parse()
        .map(Some)
        .map_err(|_| ConfigError::invalid(name, format!("expected an integer, got {value:?}")))
}

/// A positive, finite number of seconds (`1.5` allowed), as a duration.
pub(super) fn seconds(
    src: Source<'_>,
    name: &'static str,
) -> Result<Option<std::time::Duration>, ConfigError> {
    let Some(value) = text(src, name)? else {
        return Ok(None);
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .map(Some)
        .ok_or_else(|| {
            ConfigError::invalid(
                name,
                format!("expected a positive number of seconds, got {value:?}"),
            )
        })
}

/// A fraction in (0, 1] (`0.5`).
pub(super) fn fraction(src: Source<'_>, name: &'static str) -> Result<Option<f64>, ConfigError> {
    let Some(value) = text(src, name)? else {
        return Ok(None);
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|f| *f > 0.0 && *f <= 1.0)
        .map(Some)
        .ok_or_else(|| {
            ConfigError::invalid(
                name,
                format!("expected a fraction above 0 and at most 1, got {value:?}"),
            )
        })
}

/// Comma-separated items, trimmed, empties dropped. The items are not
/// quoted in errors: this reads secrets.
pub(super) fn list(src: Source<'_>, name: &'static str) -> Result<Vec<String>, ConfigError> {
    Ok(src(name)?
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// `Lax`/`Strict`/`None` (any case, as Django validates), or `False` for no
/// attribute.
pub(super) fn samesite(
    src: Source<'_>,
    name: &'static str,
) -> Result<Option<Option<SameSite>>, ConfigError> {
    let Some(value) = text(src, name)? else {
        return Ok(None);
    };
    let parsed = match value.to_ascii_lowercase().as_str() {
        "lax" => Some(SameSite::Lax),
        "strict" => Some(SameSite::Strict),
        "none" => Some(SameSite::None),
        "false" => None,
        _ => {
            return Err(ConfigError::invalid(
                name,
                format!("expected Lax, Strict, None or False, got {value:?}"),
            ))
        }
    };
    Ok(Some(parsed))
}

/// Text that goes into a `Set-Cookie` attribute: no control characters and
/// no `;`, which would end the attribute early or split the header.
pub(super) fn attribute(
    src: Source<'_>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    let value = text(src, name)?;
    if let Some(value) = &value {
        if value.chars().any(|c| c.is_control() || c == ';') {
            return Err(ConfigError::invalid(
                name,
                "must not contain ';' or control characters",
            ));
        }
    }
    Ok(value)
}

/// A cookie name Python's `Morsel` accepts: cookie-legal characters only,
/// and not an attribute name such as `path`.
pub(super) fn cookie_name(
    src: Source<'_>,
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    const RESERVED: [&str; 10] = [
        "expires",
        "path",
        "comment",
        "domain",
        "max-age",
        "secure",
        "httponly",
        "version",
        "samesite",
        "partitioned",
    ];
    let value = text(src, name)?;
    if let Some(value) = &value {
        let legal = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c);
        if !value.chars().all(legal) {
            return Err(ConfigError::invalid(
                name,
                format!("{value:?} has characters not allowed in a cookie name"),
            ));
        }
        if RESERVED.contains(&value.to_ascii_lowercase().as_str()) {
            return Err(ConfigError::invalid(
                name,
                format!("{value:?} is a cookie attribute name"),
            ));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &'static str) -> impl Fn(&'static str) -> Result<Option<String>, ConfigError> {
        move |_| Ok(Some(value.to_owned()))
    }

    #[test]
    fn blank_is_unset() {
        assert_eq!(boolean(&one("  "), "X").ok(), Some(None));
        assert_eq!(text(&one(""), "X").ok(), Some(None));
    }

    #[test]
    fn seconds_are_positive_and_finite() {
        let ms = |v| seconds(&one(v), "X").ok().flatten().map(|d| d.as_millis());
        assert_eq!(ms("0.3"), Some(300));
        assert_eq!(ms(" 5 "), Some(5000));
        for bad in ["0", "-1", "0.0", "NaN", "inf", "1e300", "5s", "1e-12"] {
            assert!(seconds(&one(bad), "X").is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn fractions_are_in_zero_one() {
        assert_eq!(fraction(&one("0.25"), "X").ok().flatten(), Some(0.25));
        assert_eq!(fraction(&one("1"), "X").ok().flatten(), Some(1.0));
        for bad in ["0", "-0.5", "1.01", "NaN", "inf", "half"] {
            assert!(fraction(&one(bad), "X").is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lists_drop_empties() {
        assert_eq!(
            list(&one(" a, ,b ,,"), "X").ok(),
            Some(vec!["a".into(), "b".into()])
        );
    }
}
