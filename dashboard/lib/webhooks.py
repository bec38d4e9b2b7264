"""Outgoing webhooks that cannot be turned against the inside of the network (SSRF).

A target is checked when it is saved (:func:`webhook_url_check`, for forms) and again when
it is called (:func:`webhook_send`): every address its host resolves to must be public, or
the host must be listed in ``WEBHOOK_ALLOWED_HOSTS``. The connection then goes to the very
address that was checked (TLS still verifies the certificate for the host name), so a DNS
answer that changes between the check and the connect (DNS rebinding) gains nothing.
Redirects are not followed and proxies from the environment are not used.

Delivery runs as its own Celery task (:func:`webhook_enqueue`), one per message, with a
short timeout and retries with exponential backoff, so a slow or dead receiver delays
nothing else.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from celery import shared_task
from django.conf import settings
from django.db import transaction

__all__ = [
    "WebhookFailed",
    "WebhookRefused",
    "webhook_deliver",
    "webhook_enqueue",
    "webhook_send",
    "webhook_url_check",
    "webhook_url_masked",
]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookRefused(ValueError):
    """The target may not be called: a bad URL, or an address inside the network."""


class WebhookFailed(Exception):
    """The delivery failed in a way a later try may not (network error, 5xx, 429)."""


def _resolve(host: str, port: int) -> list[str]:
    """Return every address ``host`` resolves to (the system resolver, as a connect would use)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    """Return whether ``address`` is a public unicast address (not loopback, private, CGNAT, ...)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return _is_public(embedded)
        if address.is_site_local:
            return False
    # is_global is False for loopback, private, link-local (the cloud metadata address
    # 169.254.169.254 and fd00:ec2::254 included), CGNAT 100.64/10, documentation and
    # reserved ranges; multicast is "global" to Python, but never a webhook.
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_private
    )


def _allowed(host: str, address: IPAddress | None) -> bool:
    for entry in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", []):
        if entry.lower() == host.lower():
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address is not None and address.version == network.version and address in network:
            return True
    return False


def _target(url: str) -> tuple[str, str, int]:
    """Return the scheme, host and port of ``url``, or refuse it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookRefused(f"the URL cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("the URL must start with http:// or https://")
    host = parts.hostname or ""
    if not host:
        raise WebhookRefused("the URL has no host")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _checked_addresses(url: str, resolve: Resolver | None = None) -> tuple[str, str, int, list[IPAddress]]:
    scheme, host, port = _target(url)
    try:
        found = (resolve or _resolve)(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookRefused(f"the host {host!r} cannot be resolved: {exc}") from None
    if not found:
        raise WebhookRefused(f"the host {host!r} cannot be resolved")
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
    if _allowed(host, None):
        return scheme, host, port, addresses
    for address in addresses:
        if not _is_public(address) and not _allowed(host, address):
            raise WebhookRefused(
                f"{host} resolves to {address}, an internal address (loopback, private, link-local, "
                "shared or multicast); list the host in WEBHOOK_ALLOWED_HOSTS to allow it"
            )
    return scheme, host, port, addresses


def webhook_url_check(url: str, *, resolve: Resolver | None = None) -> None:
    """Refuse a webhook URL that is not http(s) or whose host resolves to an internal address."""
    _checked_addresses(url, resolve)


def webhook_url_masked(url: str) -> str:
    """Return the URL with its path and query hidden (they often carry the receiver's secret)."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
    except ValueError:
        return "…"
    if not parts.scheme or not netloc:
        return "…"
    hidden = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{netloc}{hidden}"


def webhook_send(
    *,
    url: str,
    payload: dict[str, Any],
    timeout: float | None = None,
    resolve: Resolver | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Post ``payload`` as JSON to ``url`` through a checked address; return the status code.

    Raises :class:`WebhookRefused` for a target that may not be called and
    :class:`WebhookFailed` for a failure worth retrying.
    """
    scheme, host, port, addresses = _checked_addresses(url, resolve)
    address = addresses[0]
    request_url = httpx.URL(url).copy_with(host=str(address), port=port)
    name = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": name if port == default_port else f"{name}:{port}",
        "User-Agent": "llm-contracts-webhook",
    }
    # The certificate is verified for the host name the user gave, not for the address.
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    limit = timeout if timeout is not None else settings.ALERT_WEBHOOK_TIMEOUT_S
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=False, timeout=limit) as client:
        try:
            response = client.post(request_url, json=payload, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            raise WebhookFailed(f"{webhook_url_masked(url)}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise WebhookFailed(f"{webhook_url_masked(url)} answered {response.status_code}")
    return response.status_code


def _backoff(retries: int) -> float:
    base = settings.WEBHOOK_RETRY_BACKOFF_S * (2**retries)
    # Full jitter: receivers that come back up are not hit by every retry at once.
    return random.uniform(base / 2, base)  # noqa: S311 (not for security)


@shared_task(name="webhooks.deliver", bind=True, ignore_result=True)
def webhook_deliver(self: Any, *, url: str, payload: dict[str, Any], what: str = "webhook") -> bool:
    """Deliver one webhook message, retrying failures with exponential backoff."""
    try:
        status = webhook_send(url=url, payload=payload)
    except WebhookRefused as exc:
        logger.warning("%s not sent: %s", what, exc)
        return False
    except WebhookFailed as exc:
        if self.request.retries >= settings.WEBHOOK_MAX_RETRIES:
            logger.warning("%s given up after %d tries: %s", what, self.request.retries + 1, exc)
            return False
        logger.info("%s failed, will retry: %s", what, exc)
        raise self.retry(countdown=_backoff(self.request.retries), max_retries=None) from None
    if status >= 300:
        logger.warning("%s refused by %s with %s", what, webhook_url_masked(url), status)
        return False
    return True


def webhook_enqueue(*, url: str, payload: dict[str, Any], what: str = "webhook") -> None:
    """Queue one delivery for after the current transaction commits."""
    transaction.on_commit(lambda: webhook_deliver.delay(url=url, payload=payload, what=what))
