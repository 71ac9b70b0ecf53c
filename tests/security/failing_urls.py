"""The application's addresses plus one that fails, to see what a 500 shows."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from tracker import urls as tracker_urls

handler400 = tracker_urls.handler400
handler404 = tracker_urls.handler404
handler500 = tracker_urls.handler500


def fail(request: HttpRequest) -> HttpResponse:
    password = request.POST.get("password", "")  # in the frame's locals on purpose
    raise RuntimeError(f"something broke after reading {len(password)} characters")


urlpatterns = [path("api/failing/", fail), *tracker_urls.urlpatterns]
