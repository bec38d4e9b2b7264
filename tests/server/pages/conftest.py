"""Logged-in clients for the page tests: the owner and the viewer of project A, and the outsider."""

from __future__ import annotations

import pytest
from django.test import Client

from contracts_app import services
from contracts_app.models import ContractVersion

from ..conftest import Cast

REPLY_V1 = """contract Reply {
  ensure len(output) <= 200
}
"""
REPLY_V2 = """contract Reply {
  ensure len(output) <= 100
  ensure not pii(output)
}
"""


def logged_in(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


@pytest.fixture
def owner(cast: Cast) -> Client:
    return logged_in(cast.owner)


@pytest.fixture
def viewer(cast: Cast) -> Client:
    return logged_in(cast.member)


@pytest.fixture
def outsider(cast: Cast) -> Client:
    return logged_in(cast.outsider)


@pytest.fixture
def reply(cast: Cast) -> list[ContractVersion]:
    """Contract Reply of project A, in two versions; v2 runs."""
    versions = [
        services.contract_version_create(
            project=cast.project_a, name="Reply", source=source, author=cast.owner
        )
        for source in (REPLY_V1, REPLY_V2)
    ]
    services.contract_version_activate(contract_version=versions[1], actor=cast.owner)
    return versions
