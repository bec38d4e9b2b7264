from django.apps import AppConfig


class ContractsAppConfig(AppConfig):
    name = "contracts_app"
    verbose_name = "Contracts"
    default_auto_field = "django.db.models.BigAutoField"
