"""The dashboard's own data: each user's display preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    """How one user wants the pages shown (today: the time zone of every time and chart)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    # Blank means "the browser's" (the tz cookie the pages' script sets), else an IANA name.
    time_zone = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user} · {self.time_zone or 'browser time zone'}"
