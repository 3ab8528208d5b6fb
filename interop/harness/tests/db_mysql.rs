//! Django and sessionkit on one MariaDB/MySQL `django_session` table (a database of this test's own).

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::DbMysql);
