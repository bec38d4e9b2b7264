"""Webhooks cannot reach the inside: internal targets are refused on save and on send, the
connection goes to the checked address, delivery retries with backoff, viewers see a mask."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Project
from dashboard.lib import webhooks
from dashboard.lib.webhooks import WebhookFailed, WebhookRefused

from .conftest import Cast
from .webhook_receiver import Receiver

INTERNAL = [
    "http://169.254.169.254/latest/meta-data/iam/",  # cloud metadata (link-local)
    "http://[fd00:ec2::254]/latest/",  # AWS metadata over IPv6 (unique local)
    "http://[::1]:6379/",
    "http://localhost:5432/",
    "http://127.0.0.1/",
    "http://127.1.2.3:8000/",
    "http://0.0.0.0:8000/",
    "http://2130706433/",  # 127.0.0.1 written as one decimal number
    "http://0177.0.0.1/",  # ... in octal
    "http://0x7f.1/",  # ... in hex, shortened
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # the metadata address, mapped
    "http://[64:ff9b::a9fe:a9fe]/",  # ... through NAT64
    "http://[2002:7f00:1::]/",  # loopback through 6to4
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
]


class TestTargets:
    @pytest.mark.parametrize("url", INTERNAL)
    def test_internal_targets_are_refused(self, url: str) -> None:
        with pytest.raises(WebhookRefused, match="internal address|cannot be resolved"):
            webhooks.webhook_url_check(url)

    @pytest.mark.parametrize(
        "url", ["ftp://93.184.216.34/", "file:///etc/passwd", "http:///nohost", "gopher://x"]
    )
    def test_other_schemes_and_broken_urls_are_refused(self, url: str) -> None:
        with pytest.raises(WebhookRefused):
            webhooks.webhook_url_check(url)

    @pytest.mark.parametrize("url", ["https://93.184.216.34/hooks/x", "http://[2606:4700:4700::1111]:8080/a"])
    def test_public_addresses_pass(self, url: str) -> None:
        webhooks.webhook_url_check(url)

    def test_a_host_resolving_to_one_internal_address_among_public_ones_is_refused(self) -> None:
        def resolve(host: str, port: int) -> list[str]:
            return ["93.184.216.34", "10.0.0.5"]

        with pytest.raises(WebhookRefused, match="10.0.0.5"):
            webhooks.webhook_url_check("https://hooks.example.org/x", resolve=resolve)

    def test_listed_internal_hosts_and_networks_are_allowed(self, settings: Any) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = ["alerts.internal", "10.1.0.0/16"]
        webhooks.webhook_url_check("http://10.1.2.3/x")
        webhooks.webhook_url_check("http://alerts.internal/x", resolve=lambda host, port: ["10.9.9.9"])
        with pytest.raises(WebhookRefused):
            webhooks.webhook_url_check("http://10.2.0.1/x")

    def test_the_mask_hides_the_path_and_query(self) -> None:
        assert webhooks.webhook_url_masked("https://hooks.slack.com/services/T0/B0/SECRET?x=1") == (
            "https://hooks.slack.com/…"
        )
        assert webhooks.webhook_url_masked("http://h.example:8080") == "http://h.example:8080"


class TestSettingsPage:
    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:6379/",
            "http://localhost:5432/",
            "http://[::ffff:7f00:1]/",
            "http://100.64.0.1/",
        ],
    )
    def test_saving_an_internal_target_is_a_field_error(self, client: Client, cast: Cast, url: str) -> None:
        client.force_login(cast.owner)
        response = client.post(
            f"/p/{cast.project_a.slug}/settings/project/", {"retention_days": "7", "alert_webhook_url": url}
        )
        assert response.status_code == 400
        assert b"alert_webhook_url: " in response.content and b"internal address" in response.content
        assert Project.objects.get(pk=cast.project_a.pk).alert_webhook_url == ""

    def test_a_viewer_sees_the_webhook_masked(self, client: Client, cast: Cast) -> None:
        Project.objects.filter(pk=cast.project_a.pk).update(
            alert_webhook_url="https://93.184.216.34/services/T0/SECRET-TOKEN"
        )
        client.force_login(cast.member)  # a viewer
        content = client.get(f"/p/{cast.project_a.slug}/settings/").content
        assert b"https://93.184.216.34/\xe2\x80\xa6" in content and b"SECRET-TOKEN" not in content


class TestSending:
    def test_the_connection_goes_to_the_checked_address_with_the_given_host(
        self, settings: Any, receiver: Receiver
    ) -> None:
        # hooks.test exists in no DNS: only the checked address can have been connected to.
        settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.test"]
        status = webhooks.webhook_send(
            url=f"http://hooks.test:{receiver.port}/in",
            payload={"n": 1},
            resolve=lambda host, port: ["127.0.0.1"],
        )
        assert status == 200 and receiver.posts == [{"n": 1}]
        assert receiver.hosts == [f"hooks.test:{receiver.port}"]

    def test_an_answer_that_changes_after_the_check_is_refused_at_send_time(self, receiver: Receiver) -> None:
        answers = iter([["93.184.216.34"], ["127.0.0.1"]])

        def rebinding(host: str, port: int) -> list[str]:
            return next(answers)

        url = f"http://rebind.example:{receiver.port}/in"
        webhooks.webhook_url_check(url, resolve=rebinding)  # saved while it looked public
        with pytest.raises(WebhookRefused, match="127.0.0.1"):
            webhooks.webhook_send(url=url, payload={"n": 1}, resolve=rebinding)
        assert receiver.posts == []

    def test_a_target_saved_while_allowed_is_refused_once_no_longer_listed(
        self, settings: Any, receiver: Receiver, eager_tasks: None
    ) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = []
        assert webhooks.webhook_deliver.delay(url=receiver.url, payload={"n": 1}).get() is False
        assert receiver.posts == []

    def test_a_hanging_receiver_fails_within_the_timeout(self, settings: Any, receiver: Receiver) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        receiver.delay_s = 2.0
        with pytest.raises(WebhookFailed, match="Timeout"):
            webhooks.webhook_send(url=receiver.url, payload={"n": 1}, timeout=0.2)

    def test_delivery_retries_with_backoff_and_gives_up_after_the_limit(
        self, settings: Any, receiver: Receiver, eager_tasks: None
    ) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        settings.WEBHOOK_MAX_RETRIES = 2
        settings.WEBHOOK_RETRY_BACKOFF_S = 0.0
        receiver.statuses = [500] * 10
        webhooks.webhook_deliver.delay(url=receiver.url, payload={"n": 1}).get(propagate=False)
        assert len(receiver.posts) == 3  # the first try and two retries

    def test_the_backoff_doubles_with_jitter(self, settings: Any) -> None:
        settings.WEBHOOK_RETRY_BACKOFF_S = 10.0
        for retries, (low, high) in enumerate([(5, 10), (10, 20), (20, 40)]):
            assert all(low <= webhooks._backoff(retries) <= high for _ in range(20))

    def test_a_client_error_is_not_retried(
        self, settings: Any, receiver: Receiver, eager_tasks: None
    ) -> None:
        settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
        receiver.statuses = [404]
        assert webhooks.webhook_deliver.delay(url=receiver.url, payload={"n": 1}).get() is False
        assert len(receiver.posts) == 1
