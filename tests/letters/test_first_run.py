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

    assert first == again
    assert first.strip() == (
        "Demo loaded: 2 letters, 7 organizations, 25 people, 25 signatures, 25 sightings."
    )


def test_the_admin_password_is_printed_only_when_the_login_is_made(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    made = run("ensure_admin")
    again = run("ensure_admin")

    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert made.strip() == f"Admin login created: admin / {password}"
    assert password not in again
    assert again.strip() == f"Admin login: admin (its password is in {tmp_path}/admin-password.txt)"
