"""The Django half of the live harness. Each view mirrors a route of the Rust
app in interop/harness/src/app.rs, so one cookie jar can alternate between them."""
import json

from django.contrib.auth import get_user_model, login, logout
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .sessions import apply_expiry, describe


def ready(request):
    """Readiness probe: touches no session."""
    return HttpResponse("ok")


def count_visit(request):
    """The seed's view."""
    request.session["visit"] = request.session.get("visit", 0) + 1
    return HttpResponse(f"Visit count:{request.session['visit']}")


@csrf_exempt
def set_data(request):
    """POST {"data": {...}, "expiry": spec?}: `update` the session, then `set_expiry`."""
    body = json.loads(request.body or b"{}")
    request.session.update(body.get("data", {}))
    apply_expiry(request.session, body.get("expiry"))
    return HttpResponse("ok")


def read(request):
    """The session as JSON (see sessions.describe); `?contains=a,b` checks keys."""
    contains = [k for k in request.GET.get("contains", "").split(",") if k]
    return JsonResponse(describe(request.session, contains))


def flush(request):
    request.session.flush()
    return HttpResponse("flushed")


def cycle(request):
    request.session.cycle_key()
    return HttpResponse("cycled")


def expiry(request):
    """`?spec=seconds:N|at:ISO|browser_close|default`."""
    try:
        apply_expiry(request.session, request.GET["spec"])
    except (KeyError, ValueError) as e:
        return HttpResponseBadRequest(str(e))
    return HttpResponse("ok")


def login_view(request):
    """`?username=`: Django's `login()` for that user (no password check: the
    harness logs in users it created)."""
    user = get_user_model().objects.get(username=request.GET["username"])
    login(request, user)
    return JsonResponse({"user": str(user.pk)})


def whoami(request):
    """`request.user` as the auth middleware resolved it: a pk, or null."""
    user = request.user
    return JsonResponse({"user": str(user.pk) if user.is_authenticated else None})


def logout_view(request):
    logout(request)
    return HttpResponse("logged out")


def change_password(request):
    """`?username=&password=`: `set_password` + `save`, without
    `update_session_auth_hash`, so every session of the user is invalidated."""
    user = get_user_model().objects.get(username=request.GET["username"])
    user.set_password(request.GET["password"])
    user.save()
    return HttpResponse("changed")
