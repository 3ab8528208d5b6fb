//! Django and sessionkit on one PostgreSQL `django_session` table (a database of this test's own).

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::DbPostgres);
