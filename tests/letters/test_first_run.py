"""What `make run` prints on its first start and on the next ones: the demo's
own counts, and the admin password only when the login is made."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.factories import make_letter, make_person

pytestmark = pytest.mark.django_db


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_the_demo_counts_what_it_loaded_not_the_whole_database():
    make_letter(title="Another letter", slug="another")
    make_person("Someone Else")

    first = run("load_demo")
    again = run("load_demo")

    counted = "Demo loaded: 2 letters, 10 organizations, 28 people, 30 signatures, 33 sightings."
    # The first load runs the duplicate finder once; the counts are after it.
    assert first.splitlines()[-1] == counted
    assert first.splitlines()[0].startswith("Match run ")
    assert again.strip() == counted


def test_the_admin_password_is_printed_only_when_the_login_is_made(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    made = run("ensure_admin")
    again = run("ensure_admin")

    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert made.strip() == f"Admin login created: admin / {password}"
    assert password not in again
    assert again.strip() == f"Admin login: admin (its password is in {tmp_path}/admin-password.txt)"
