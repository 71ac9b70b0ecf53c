"""python manage.py link_organizations"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from letters.affiliations import stored_link


class Command(BaseCommand):
    help = (
        "Link every signature with no organization to the one its stated affiliation "
        "names (by the folded name or an alias), and print how many were linked. "
        "Signatures an editor chose an organization for, or none, stay as they are; "
        "running it again links only what is new."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        linked = stored_link()
        plural = "" if linked == 1 else "s"
        self.stdout.write(f"Linked {linked} signature{plural} to organizations.")
