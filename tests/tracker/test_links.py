"""Detail addresses built from one reversed path give what reversing each gives."""

from __future__ import annotations

from django.test import RequestFactory
from django.urls import clear_script_prefix, reverse, set_script_prefix

from tracker.links import detail_path, detail_url


def test_it_gives_the_reversed_path_of_any_id():
    for pk in (1, 7, 9876543210, 2**63 - 1):
        assert detail_path("person-detail", pk) == reverse("person-detail", args=[pk])


def test_it_gives_the_absolute_address_of_the_request_host(settings):
    settings.ALLOWED_HOSTS = ["tracker.example.org"]
    request = RequestFactory().get("/api/people/", HTTP_HOST="tracker.example.org")
    first = detail_url(request, "person-detail", 7)
    again = detail_url(request, "person-detail", 912)
    assert first == request.build_absolute_uri(reverse("person-detail", args=[7]))
    assert again == "http://tracker.example.org/api/people/912/"


def test_it_follows_the_script_prefix_the_site_is_served_under(settings):
    settings.ALLOWED_HOSTS = ["example.org"]
    set_script_prefix("/tracker/")
    try:
        request = RequestFactory().get("/tracker/api/people/", HTTP_HOST="example.org")
        assert detail_path("person-detail", 7) == "/tracker/api/people/7/"
        assert detail_url(request, "person-detail", 7) == request.build_absolute_uri(
            reverse("person-detail", args=[7])
        )
    finally:
        clear_script_prefix()
