"""Login throttling (django-axes): a user name is locked out from one address after N wrong passwords."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from .conftest import Cast


@pytest.fixture(autouse=True)
def _limit(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3


def log_in(client: Client, password: str, *, address: str = "10.0.0.1", username: str = "alice") -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


class TestLoginThrottling:
    def test_after_the_limit_even_the_right_password_is_refused_with_429(self, cast: Cast) -> None:
        client = Client()
        assert [log_in(client, "wrong").status_code for _ in range(2)] == [200, 200]
        locked = log_in(client, "wrong")
        assert locked.status_code == 429
        assert b"Too many failed logins" in locked.content
        response = log_in(client, "password")
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session

    def test_the_lockout_is_per_user_and_address(self, cast: Cast) -> None:
        for _ in range(3):
            log_in(Client(), "wrong")
        # Another address for the same user, and another user from the same address, go on.
        assert log_in(Client(), "password", address="10.0.0.2").status_code == 302
        assert log_in(Client(), "password", username="bob").status_code == 302

    def test_a_success_before_the_limit_resets_the_count(self, cast: Cast) -> None:
        for _ in range(2):
            log_in(Client(), "wrong")
        assert log_in(Client(), "password").status_code == 302
        for _ in range(2):
            log_in(Client(), "wrong")
        assert log_in(Client(), "password").status_code == 302
