//! The session cookie on the wire, byte-compatible with Django: reading the
//! `Cookie` header (`django.http.cookie.parse_cookie`), writing `Set-Cookie`
//! (`HttpResponse.set_cookie` / `delete_cookie` through Python's `Morsel`),
//! `expires` dates, and `Vary: Cookie`.
//!
//! ```
//! use sessionkit::cookie::{http_date, parse_cookie};
//!
//! let pairs = parse_cookie(r#"csrftoken=zzz; sessionid="a\073b""#);
//! assert_eq!(pairs[1], ("sessionid".to_owned(), "a;b".to_owned()));
//! assert_eq!(http_date(1_718_452_800), "Sat, 15 Jun 2024 12:00:00 GMT");
//! ```

mod http_date;
mod parse;
mod set_cookie;
mod vary;

pub use http_date::http_date;
#[allow(unused_imports)] // the actix adapter's
pub(crate) use parse::cookie_value_from;
pub use parse::{cookie_value, parse_cookie};
pub use set_cookie::{delete_cookie, set_cookie};
pub use vary::patch_vary;
#[allow(unused_imports)] // the actix adapter's
pub(crate) use vary::vary_with_cookie;
