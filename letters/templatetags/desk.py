"""The editor's desk on the admin's index (letters/desk.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from letters.desk import desk_overview

register = template.Library()


@register.simple_tag
def desk_items() -> list[dict]:
    """The desk's items, each with the address of its filtered list."""
    items = []
    for item in desk_overview():
        url = reverse(item.url_name)
        if item.query:
            url += "?" + urlencode(item.query)
        items.append({"item": item, "url": url})
    return items
