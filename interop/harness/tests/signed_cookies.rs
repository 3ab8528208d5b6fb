//! Django and sessionkit on signed-cookie sessions (one secret, no server copy).

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::SignedCookies);
