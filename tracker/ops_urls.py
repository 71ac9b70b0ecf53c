"""Operations endpoints: health checks and metrics."""

from django.urls import path

from tracker import health
from tracker.metrics import metrics_view

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
]
