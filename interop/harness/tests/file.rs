//! Django and sessionkit on one directory of Django's session files.

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::File);
