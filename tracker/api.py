"""API plumbing shared by every app: the router that lists the resources."""

from rest_framework.routers import DefaultRouter


class TrackerRouter(DefaultRouter):
    include_format_suffixes = False


router = TrackerRouter()
