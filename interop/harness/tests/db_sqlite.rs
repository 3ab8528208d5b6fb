//! Django and sessionkit on one SQLite `django_session` table.

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::DbSqlite);
