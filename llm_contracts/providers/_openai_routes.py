"""Which OpenAI endpoints are generation calls, and the request and response views of each."""

from __future__ import annotations

from typing import Any

from . import _openai_requests as requests
from . import _openai_responses as responses
from ._registry import Route

__all__ = ["ROUTES", "Route", "route_for"]


ROUTES: dict[str, Route] = {
    r.endpoint: r
    for r in (
        Route("/chat/completions", requests.CHAT, responses.CHAT),
        Route("/responses", requests.RESPONSES, responses.RESPONSES),
        Route("/completions", requests.COMPLETIONS, responses.COMPLETIONS),
    )
}


def route_for(method: str, url: Any) -> Route | None:
    """Return the route of a generation endpoint, or None for every other call."""
    if method != "post":
        return None
    if isinstance(url, str):
        route = ROUTES.get(url)
        if route is not None or "://" not in url:
            return route
    # A full URL: match on its path's tail (base URLs may carry a prefix such as /v1).
    path = str(getattr(url, "path", url))
    for endpoint, route in ROUTES.items():
        if path.endswith(endpoint) and not path.endswith("/chat" + endpoint):
            return route
    return None
