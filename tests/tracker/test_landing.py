"""The site's root: a page linking to the API, its documentation and the admin."""

from __future__ import annotations

from django.test import Client


def test_the_root_links_to_the_api_its_docs_and_the_admin():
    response = Client().get("/")
    assert response.status_code == 200
    content = response.content.decode()
    for address in ('href="/api/"', 'href="/api/docs/"', 'href="/api/schema/"', 'href="/admin/"'):
        assert address in content
