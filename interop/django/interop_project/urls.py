"""The views the harness calls; see interop_app/views.py."""
from django.urls import path

from interop_app import views

urlpatterns = [
    path("ready/", views.ready),
    path("visit/", views.count_visit),
    path("set/", views.set_data),
    path("read/", views.read),
    path("flush/", views.flush),
    path("cycle/", views.cycle),
    path("expiry/", views.expiry),
    path("login/", views.login_view),
    path("whoami/", views.whoami),
    path("logout/", views.logout_view),
    path("password/", views.change_password),
]
