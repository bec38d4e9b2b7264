"""The control plane's URLs: the API under /api/v1/ and the admin."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from dashboard.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
