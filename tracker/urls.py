from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tracker.api import register_all, router
from tracker.auth import TokenView
from tracker.forms import admin_json_fields_harden
from tracker.login_guard import guarded_login

admin.site.site_header = "Signatory tracker"
admin.site.site_title = "Signatory tracker"
admin.site.index_title = "Letters, people and sources"

register_all()
admin_json_fields_harden(admin.site)

handler400 = "tracker.exceptions.bad_request"
handler404 = "tracker.exceptions.not_found"
handler500 = "tracker.exceptions.server_error"

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("", include("tracker.ops_urls")),
    path("admin/login/", guarded_login(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenView.as_view(), name="auth-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    path("api/", include(router.urls)),
]
