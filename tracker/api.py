"""API plumbing shared by every app: the router that lists the resources."""

from __future__ import annotations

from collections import OrderedDict

from django.urls import NoReverseMatch
from drf_spectacular.utils import extend_schema
from rest_framework import routers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse


class TrackerRootView(routers.APIRootView):
    """The resources of the signatory tracker API, the token endpoint and the schema."""

    extra_links = {"auth-token": "auth-token", "schema": "schema", "docs": "docs"}

    @extend_schema(exclude=True)
    def get(self, request: Request, *args, **kwargs) -> Response:
        links = OrderedDict()
        namespace = request.resolver_match.namespace
        for key, url_name in {**self.api_root_dict, **self.extra_links}.items():
            if namespace:
                url_name = f"{namespace}:{url_name}"
            try:
                links[key] = reverse(url_name, request=request, format=kwargs.get("format"))
            except NoReverseMatch:
                continue  # nested resources need a parent, such as a letter's slug
        return Response(links)


class TrackerRouter(routers.DefaultRouter):
    include_format_suffixes = False
    APIRootView = TrackerRootView

    def _get_dynamic_route(self, route, action):
        found = super()._get_dynamic_route(route, action)
        if action.url_path.endswith(FILE_SUFFIXES):
            # A file's address (``.../list.csv``) ends with its name, not a slash.
            found = found._replace(url=found.url.replace("{trailing_slash}", ""))
        return found


FILE_SUFFIXES = (r"\.csv",)


router = TrackerRouter()


def register_all() -> None:
    """Register every app's resources, in the order the root lists them."""
    from letters.api.urls import register as register_letters
    from people.api.urls import register as register_people

    if router.registry:
        return
    register_letters(router)
    register_people(router)
