"""What a call costs: USD per million tokens for common OpenAI models."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._exceptions import ContractConfigError

__all__ = ["PRICES", "cost_usd", "normalize_prices", "price_for"]

# (input, output) USD per 1M tokens, standard tier, as published by OpenAI in August 2025.
# Cached-input and batch discounts are not modelled, so costs are upper bounds.
# Prices change: pass your own table (``prices=``) to override or extend this one.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    # The first gpt-4o snapshot kept its launch price.
    "gpt-4o-2024-05-13": (5.00, 15.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}

# Dated snapshots share their family's price: gpt-4o-2024-08-06, gpt-3.5-turbo-0125.
_SNAPSHOT = re.compile(r"^(?P<base>.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def normalize_prices(prices: Mapping[str, Any] | None) -> dict[str, tuple[float, float]]:
    """Return a price table from ``{model: (input, output)}`` or ``{model: {"input": .., "output": ..}}``."""
    table: dict[str, tuple[float, float]] = {}
    for model, price in (prices or {}).items():
        if isinstance(price, Mapping):
            price = (price.get("input"), price.get("output"))
        if (
            not isinstance(model, str)
            or not isinstance(price, (tuple, list))
            or len(price) != 2
            or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in price)
        ):
            raise ContractConfigError(
                f"prices: {model!r} must map to (input, output) USD per 1M tokens, "
                f"two numbers >= 0; got {price!r}"
            )
        table[model] = (float(price[0]), float(price[1]))
    return table


def price_for(
    model: str, prices: Mapping[str, tuple[float, float]] | None = None
) -> tuple[float, float] | None:
    """Return ``(input, output)`` USD per 1M tokens for ``model``, or None when unknown.

    ``prices`` (already normalized) takes precedence over the built-in table.
    """
    for table in (prices or {}, PRICES):
        if model in table:
            return table[model]
    snapshot = _SNAPSHOT.match(model)
    if snapshot is not None:
        return price_for(snapshot.group("base"), prices)
    return None


def cost_usd(model: str, usage: Any, prices: Mapping[str, tuple[float, float]] | None = None) -> float | None:
    """Return the USD cost of ``usage`` (prompt and completion tokens) on ``model``; None if unknown."""
    price = price_for(model, prices)
    if price is None or usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    return (prompt * price[0] + completion * price[1]) / 1_000_000
