"""What the views and the `interop` command share: expiry specs and a JSON
description of a session, in the same shape as the harness's Rust app."""
from datetime import datetime


def apply_expiry(session, spec):
    """Calls `set_expiry` for a spec the harness sends:
    `seconds:N` | `at:<ISO 8601>` | `browser_close` | `default` | None (leave it)."""
    if spec is None:
        return
    if spec == "default":
        session.set_expiry(None)
    elif spec == "browser_close":
        session.set_expiry(0)
    elif spec.startswith("seconds:"):
        session.set_expiry(int(spec[len("seconds:"):]))
    elif spec.startswith("at:"):
        session.set_expiry(datetime.fromisoformat(spec[len("at:"):]))
    else:
        raise ValueError(f"unknown expiry spec {spec!r}")


def describe(session, contains=()):
    """The session as both apps report it: the dict (in its order), Django's
    expiry getters, whether it has a key, and whether it holds given keys."""
    data = dict(session.items())
    return {
        "data": data,
        "keys": list(data),
        "expiry_date": session.get_expiry_date().isoformat(),
        "expiry_age": session.get_expiry_age(),
        "browser_close": session.get_expire_at_browser_close(),
        "has_session_key": session.session_key is not None,
        "contains": {k: k in session for k in contains},
    }
