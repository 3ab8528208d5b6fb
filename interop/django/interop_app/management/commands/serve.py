"""`manage.py serve 127.0.0.1:PORT`: `runserver --noreload` that also exits as
soon as its standard input closes. The harness keeps that pipe open while it
runs, so a Django server can never outlive a test binary that was killed
before its drop guard could stop it."""
import os
import sys
import threading

from django.core.management import call_command
from django.core.management.base import BaseCommand


def exit_on_eof():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


class Command(BaseCommand):
    help = "runserver --noreload that exits when stdin closes"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("addrport")

    def handle(self, addrport, **options):
        threading.Thread(target=exit_on_eof, daemon=True).start()
        call_command("runserver", addrport, use_reloader=False)
