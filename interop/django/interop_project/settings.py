"""Settings of the interop project, all from the environment.

The harness (interop/harness) runs this project beside a sessionkit service on
the same session store, so every setting that decides the session format comes
from the same variables the Rust side reads:

  SECRET_KEY            required
  SECRET_KEY_FALLBACKS  comma-separated, newest first
  SESSION_ENGINE        db | file | signed_cookies | cache | cached_db, or Django's dotted path
  DATABASE_URL          sqlite:////abs/path | postgres://user[:pw]@host:port/name
                        | mysql://user[:pw]@host:port/name   (default: SQLite in this folder)
  SESSION_FILE_PATH, SESSION_COOKIE_NAME, SESSION_COOKIE_AGE, SESSION_COOKIE_DOMAIN,
  SESSION_COOKIE_PATH, SESSION_COOKIE_SECURE, SESSION_COOKIE_HTTPONLY,
  SESSION_COOKIE_SAMESITE, SESSION_EXPIRE_AT_BROWSER_CLOSE, SESSION_SAVE_EVERY_REQUEST
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql

# Django 5.2 wants mysqlclient >= 2.2.1; PyMySQL stands in for it and
# reports an old version number unless told otherwise.
pymysql.version_info = (2, 2, 1, "final", 0)
pymysql.install_as_MySQLdb()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


def database_from_url(url):
    """A DATABASES entry from a URL (no third-party parser needed)."""
    if url.startswith("sqlite:"):
        # sqlite:////abs/path → /abs/path ; sqlite:///rel → rel
        path = url[len("sqlite:"):]
        if path.startswith("//"):
            path = path[2:]
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    parts = urlsplit(url)
    engines = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
        "mariadb": "django.db.backends.mysql",
    }
    if parts.scheme not in engines:
        raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r}")
    db = {
        "ENGINE": engines[parts.scheme],
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or ""),
    }
    if db["ENGINE"].endswith("mysql"):
        db["OPTIONS"] = {"charset": "utf8mb4"}
    return db


SECRET_KEY = os.environ["SECRET_KEY"]
SECRET_KEY_FALLBACKS = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "interop_app",
]

# Sessions and auth only: no CSRF middleware, the harness's views are its own.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "interop_project.urls"
WSGI_APPLICATION = "interop_project.wsgi.application"

DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'interop.sqlite3'}")
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The same time handling as sessionkit: aware datetimes, UTC in the database.
USE_TZ = True
TIME_ZONE = "UTC"

# Session settings, by Django's names and with Django's defaults.
_engine = os.environ.get("SESSION_ENGINE", "db").strip()
SESSION_ENGINE = _engine if "." in _engine else f"django.contrib.sessions.backends.{_engine}"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
if os.environ.get("SESSION_FILE_PATH"):
    SESSION_FILE_PATH = os.environ["SESSION_FILE_PATH"]
SESSION_COOKIE_NAME = os.environ.get("SESSION_COOKIE_NAME") or "sessionid"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE") or 1209600)
SESSION_COOKIE_DOMAIN = os.environ.get("SESSION_COOKIE_DOMAIN") or None
SESSION_COOKIE_PATH = os.environ.get("SESSION_COOKIE_PATH") or "/"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
SESSION_COOKIE_HTTPONLY = env_bool("SESSION_COOKIE_HTTPONLY", True)
# "False" (any case) means no SameSite attribute, as sessionkit reads it.
_samesite = os.environ.get("SESSION_COOKIE_SAMESITE") or "Lax"
SESSION_COOKIE_SAMESITE = False if _samesite.lower() == "false" else _samesite
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
SESSION_SAVE_EVERY_REQUEST = env_bool("SESSION_SAVE_EVERY_REQUEST", False)

# A fast hasher keeps the tests quick. Sessions never look inside the hash:
# the session auth hash is an HMAC of whatever string `auth_user.password` holds.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# Errors and Django's session warnings ("Session data corrupted") on stderr,
# where the harness keeps the server's log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "django.security": {"handlers": ["console"], "level": "WARNING"},
    },
}
