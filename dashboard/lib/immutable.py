"""Rows written once: saving one again raises, in every app that has them."""

from __future__ import annotations

from typing import Any

from django.db import models


class ImmutableError(Exception):
    """A row that is written once was about to be changed."""


class ImmutableModel(models.Model):
    """A row written once: saving it again raises :class:`ImmutableError`."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError(f"{type(self).__name__} rows are immutable")
        super().save(*args, **kwargs)
