import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first admin login if there is none: from DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_PASSWORD and DJANGO_SUPERUSER_EMAIL when set, otherwise 'admin' "
        "with a generated password kept in var/admin-password.txt. Prints the password only "
        "when it makes the login."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        if username and password:
            if not users.objects.filter(username=username).exists():
                users.objects.create_superuser(username=username, email=email, password=password)
                self.stdout.write(
                    f"Admin login created: {username} (password from the environment)"
                )
            else:
                self.stdout.write(f"Admin login: {username} (password from the environment)")
            return

        password_file = Path(settings.VAR_DIR) / "admin-password.txt"
        if users.objects.filter(is_superuser=True).exists():
            if password_file.exists() and users.objects.filter(username="admin").exists():
                self.stdout.write(f"Admin login: admin (its password is in {password_file})")
            else:
                self.stdout.write("An admin login exists already.")
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username="admin", email="", password=password)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(f"Admin login created: admin / {password}")
