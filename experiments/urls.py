"""The experiment pages, under /p/<slug>/experiments/."""

from django.urls import path

from experiments import views

app_name = "experiments"

urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("new/", views.experiment_create, name="create"),
    path("<str:key>/", views.experiment_detail, name="detail"),
    path("<str:key>/edit/", views.experiment_edit, name="edit"),
    path("<str:key>/schedule/", views.experiment_ramp_edit, name="schedule"),
    path("<str:key>/coverage/", views.experiment_coverage, name="coverage"),
    path("<str:key>/<slug:action>/", views.experiment_action, name="action"),
]
