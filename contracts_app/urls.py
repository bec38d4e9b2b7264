"""The contracts, trace and breakpoint pages, under /p/<project slug>/."""

from django.urls import path

from contracts_app import views

app_name = "contracts_app"

urlpatterns = [
    path("contracts/", views.contract_list, name="contract_list"),
    path("contracts/new/", views.contract_edit, name="contract_new"),
    path("contracts/validate/", views.contract_validate, name="contract_validate"),
    path("contracts/try/", views.contract_try, name="contract_try"),
    path("contracts/<str:name>/", views.contract_detail, name="contract_detail"),
    path("contracts/<str:name>/edit/", views.contract_edit, name="contract_edit"),
    path(
        "contracts/<str:name>/versions/<int:version>/activate/",
        views.contract_activate,
        name="contract_activate",
    ),
    path(
        "contracts/<str:name>/versions/<int:version>/profile/",
        views.contract_profile,
        name="contract_profile",
    ),
    path("contracts/<str:name>/deactivate/", views.contract_deactivate, name="contract_deactivate"),
    path("traces/compare/", views.trace_compare, name="trace_compare"),
    path("traces/<path:trace_id>/", views.trace_detail, name="trace_detail"),
    path("breakpoints/", views.breakpoint_list, name="breakpoint_list"),
    path("breakpoints/<int:pk>/", views.breakpoint_detail, name="breakpoint_detail"),
    path("breakpoints/<int:pk>/active/", views.breakpoint_active, name="breakpoint_active"),
    path("breakpoints/<int:pk>/delete/", views.breakpoint_delete, name="breakpoint_delete"),
]
