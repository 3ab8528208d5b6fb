"""`manage.py interop`: at-rest work on the session store, batched so a test
pays Django's start-up once. Reads a JSON list of operations on stdin and
prints a JSON list of results (one per operation, in order) on stdout.

Operations:
  {"op": "write", "data": {...}, "expiry": spec?}
      a new session through SessionStore → {"key": session_key (the cookie
      value; for signed_cookies the signed session), "stored": raw?}
  {"op": "read", "key": K, "contains": [..]?}
      SessionStore(K) loaded → sessions.describe(...) + {"key_after": the key
      after loading (None when Django dropped it), "stored": raw?}
  {"op": "repr", "key": K}
      SessionStore(K) loaded → {"repr": Python's repr() of the dict}: exact
      where JSON is not (ints vs floats, NaN, lone surrogates)
  {"op": "increment", "key": K, "name": "visit"}
      load, add 1, save (re-signs with the current SECRET_KEY) → {"key", "value"}
  {"op": "login", "username": U}
      a new session holding what `auth.login()` stores for U (id, backend,
      session auth hash under the current SECRET_KEY) → {"key"}
  {"op": "whoami", "key": K}
      `auth.get_user()` on SessionStore(K), saved if it changed the session
      (a hash made with a fallback key is renewed, the key cycled) →
      {"user": pk or None, "key": the key after}
  {"op": "create_user", "username": U, "password": P} → {"pk", "password"}
  {"op": "user", "username": U} → {"pk", "password"}  (the stored hash)

"stored" is the raw record: for db engines the row ({"session_data",
"expire_date"} as ISO 8601), for the file engine the file ({"content",
"mode"}), else null.
"""
import json
import os
import sys
from importlib import import_module

from django.conf import settings
from types import SimpleNamespace

from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user,
    get_user_model,
)
from django.core.management.base import BaseCommand

from interop_app.sessions import apply_expiry, describe


def session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def stored(store, key):
    """The raw record behind `key`, or None (missing, or an engine with none)."""
    engine = settings.SESSION_ENGINE.rsplit(".", 1)[-1]
    if key is None:
        return None
    if engine in ("db", "cached_db"):
        from django.contrib.sessions.models import Session

        row = Session.objects.filter(session_key=key).values("session_data", "expire_date").first()
        if row is None:
            return None
        return {"session_data": row["session_data"], "expire_date": row["expire_date"].isoformat()}
    if engine == "file":
        path = store._key_to_file(key)
        if not os.path.exists(path):
            return None
        with open(path, encoding="ascii") as f:
            content = f.read()
        return {"content": content, "mode": os.stat(path).st_mode & 0o777}
    return None


def run(op):
    kind = op["op"]
    Store = session_store()
    if kind == "write":
        s = Store()
        s.update(op.get("data", {}))
        apply_expiry(s, op.get("expiry"))
        s.save()
        return {"key": s.session_key, "stored": stored(s, s.session_key)}
    if kind == "read":
        s = Store(op["key"])
        result = describe(s, op.get("contains", ()))
        result["key_after"] = s.session_key
        result["stored"] = stored(s, s.session_key)
        return result
    if kind == "repr":
        s = Store(op["key"])
        return {"repr": repr(dict(s.items()))}
    if kind == "increment":
        s = Store(op["key"])
        name = op.get("name", "visit")
        s[name] = s.get(name, 0) + 1
        s.save()
        return {"key": s.session_key, "value": s[name]}
    if kind == "login":
        user = get_user_model().objects.get(username=op["username"])
        s = Store()
        # What auth.login() writes, without a request to log in from.
        s[SESSION_KEY] = user._meta.pk.value_to_string(user)
        s[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.save()
        return {"key": s.session_key}
    if kind == "whoami":
        s = Store(op["key"])
        user = get_user(SimpleNamespace(session=s))
        if s.modified:
            s.save()
        return {"user": str(user.pk) if user.is_authenticated else None, "key": s.session_key}
    if kind in ("create_user", "user"):
        User = get_user_model()
        if kind == "create_user":
            user = User.objects.create_user(username=op["username"], password=op["password"])
        else:
            user = User.objects.get(username=op["username"])
        return {"pk": str(user.pk), "password": user.password}
    raise ValueError(f"unknown op {kind!r}")


class Command(BaseCommand):
    help = "Batched at-rest session operations for the interop harness (JSON on stdin)."

    def handle(self, *args, **options):
        # Python's json reads NaN, Infinity, huge ints and lone surrogates,
        # so edge values reach Django exactly as a test writes them.
        ops = json.load(sys.stdin)
        results = [run(op) for op in ops]
        sys.stdout.write(json.dumps(results))
