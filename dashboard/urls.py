"""The control plane's URLs: the API under /api/v1/, the admin, login and the project pages."""

import plotly
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import views
from dashboard.api import api

# The pages of one project, under /p/<slug>/ (namespace "dashboard").
dashboard_patterns = [
    path("p/<slug:slug>/", views.overview, name="overview"),
    path("p/<slug:slug>/violations/", views.violations, name="violations"),
    path("p/<slug:slug>/events/<int:pk>/", views.event_detail, name="event"),
    path("p/<slug:slug>/calls/<path:call_id>/", views.call_detail, name="call"),
    path("p/<slug:slug>/health/", views.health, name="health"),
    path("p/<slug:slug>/settings/", views.settings_page, name="settings"),
    path("p/<slug:slug>/settings/keys/", views.api_key_create, name="api_key_create"),
    path("p/<slug:slug>/settings/keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("p/<slug:slug>/settings/invitations/", views.member_invite, name="member_invite"),
    path("p/<slug:slug>/settings/members/<int:membership_id>/", views.member_update, name="member_update"),
    path("p/<slug:slug>/settings/project/", views.project_settings_save, name="project_settings"),
    path("p/<slug:slug>/settings/alerts/", views.alert_rule_create, name="alert_rule_create"),
    path("p/<slug:slug>/settings/alerts/<int:rule_id>/delete/", views.alert_rule_delete, name="alert_delete"),
    path("p/<slug:slug>/llmcl/format/", views.llmcl_format, name="llmcl_format"),
    path("projects/new/", views.project_new, name="project_new"),
    path("timezone/", views.time_zone_page, name="time_zone"),
    # Versioned, so browsers may keep it for a year (see views.plotly_js).
    path(f"vendor/plotly-{plotly.__version__}.min.js", views.plotly_js, name="plotly_js"),
]

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("", include("accounts.urls")),
    path("", include((dashboard_patterns, "dashboard"))),
    path("p/<slug:slug>/experiments/", include("experiments.urls")),
    path("p/<slug:slug>/", include("contracts_app.urls")),
]
