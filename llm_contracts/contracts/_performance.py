"""Built-in performance contracts: response time and token/cost budgets.

Both default to ``enforcement="warn"``: the slow or costly answer has already been
paid for, and re-asking would only add time and tokens. Pass
``enforcement="strict"`` to reject such answers instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._exceptions import ContractConfigError
from ._base import Category, Contract, Enforcement, ValidationContext, ValidationResult
from ._pricing import cost_usd, normalize_prices, price_for
from ._types import LLMResponse

__all__ = ["ResponseTimeContract", "TokenBudgetContract"]

log = logging.getLogger("llm_contracts")


def _positive(value: Any, name: str, *, integer: bool = False) -> Any:
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        what = "an int > 0" if integer else "a number > 0"
        raise ContractConfigError(f"{name} must be {what} or None; got {value!r}")
    return value


class ResponseTimeContract(Contract):
    """Require the model to answer within ``max_seconds``.

    The time is the response's own latency, else the elapsed time the engine measured.

    Example::

        ResponseTimeContract(2.5)
    """

    default_category = Category.PERFORMANCE

    def __init__(
        self, max_seconds: float, *, enforcement: Enforcement | str = Enforcement.WARN, **kwargs: Any
    ) -> None:
        super().__init__(kwargs.pop("name", None), enforcement=enforcement, **kwargs)
        if max_seconds is None:
            raise ContractConfigError("max_seconds must be a number > 0; got None")
        self.max_seconds = float(_positive(max_seconds, "max_seconds"))

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        latency = value.latency_s if isinstance(value, LLMResponse) else None
        if latency is None and context is not None:
            latency = context.elapsed_s
        if latency is None:
            return self.ok(latency_s=None)
        if latency > self.max_seconds:
            return self.fail(
                f"the model took {latency:.2f} s, more than the limit of {self.max_seconds:.2f} s",
                latency_s=round(latency, 4),
            )
        return self.ok(latency_s=round(latency, 4))


class TokenBudgetContract(Contract):
    """Keep one answer within a token and/or dollar budget.

    Parameters:
        max_total_tokens: prompt plus completion tokens.
        max_completion_tokens: tokens of the answer.
        max_cost_usd: the cost, priced from the model (``model``, else the response's,
            else the request's) with :data:`~llm_contracts.contracts._pricing.PRICES`.
        model: price as this model regardless of what the response reports.
        prices: ``{model: (input, output)}`` USD per 1M tokens, over the built-in table.

    An answer without usage (a stream without ``include_usage``), or of a model
    without a known price, passes with ``details["unknown"]`` saying why.

    Example::

        TokenBudgetContract(max_completion_tokens=800, max_cost_usd=0.02)
    """

    default_category = Category.PERFORMANCE

    def __init__(
        self,
        max_total_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        max_cost_usd: float | None = None,
        model: str | None = None,
        *,
        prices: Mapping[str, Any] | None = None,
        enforcement: Enforcement | str = Enforcement.WARN,
        **kwargs: Any,
    ) -> None:
        super().__init__(kwargs.pop("name", None), enforcement=enforcement, **kwargs)
        self.max_total_tokens = _positive(max_total_tokens, "max_total_tokens", integer=True)
        self.max_completion_tokens = _positive(max_completion_tokens, "max_completion_tokens", integer=True)
        self.max_cost_usd = _positive(max_cost_usd, "max_cost_usd")
        if self.max_total_tokens is None and self.max_completion_tokens is None and self.max_cost_usd is None:
            raise ContractConfigError(
                "TokenBudgetContract needs at least one of max_total_tokens, "
                "max_completion_tokens, max_cost_usd"
            )
        self.prices = normalize_prices(prices)
        if model is not None and (not isinstance(model, str) or not model):
            raise ContractConfigError(f"model must be a model name or None; got {model!r}")
        if model is not None and self.max_cost_usd is not None and price_for(model, self.prices) is None:
            raise ContractConfigError(
                f"model: no price known for {model!r}; pass prices={{{model!r}: "
                f"(input, output)}} in USD per 1M tokens"
            )
        self.model = model
        self._unpriced: set[str] = set()

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        usage = value.usage if isinstance(value, LLMResponse) else None
        if usage is None:
            return self.ok(unknown="the response reports no usage")
        details: dict[str, Any] = {
            "total_tokens": usage.total_tokens,
            "completion_tokens": usage.completion_tokens,
        }
        if self.max_total_tokens is not None and usage.total_tokens > self.max_total_tokens:
            return self.fail(
                f"the call used {usage.total_tokens} tokens, more than the budget of {self.max_total_tokens}",
                **details,
            )
        if self.max_completion_tokens is not None and usage.completion_tokens > self.max_completion_tokens:
            return self.fail(
                f"the answer used {usage.completion_tokens} tokens, more than the budget of "
                f"{self.max_completion_tokens}",
                suggestion=f"Answer in fewer than {self.max_completion_tokens} tokens.",
                **details,
            )
        if self.max_cost_usd is None:
            return self.ok(**details)
        model = self.model or value.model or (context.request.model if context and context.request else "")
        cost = cost_usd(model, usage, self.prices)
        if cost is None:
            if model not in self._unpriced:
                # Once per model: an unpriced model would otherwise log on every call.
                self._unpriced.add(model)
                log.warning("TokenBudgetContract: no price for model %r; cost not checked", model)
            return self.ok(unknown=f"no price for model {model!r}", **details)
        details["cost_usd"] = round(cost, 8)
        if cost > self.max_cost_usd:
            return self.fail(
                f"the call cost ${cost:.6f}, more than the budget of ${self.max_cost_usd:.6f}", **details
            )
        return self.ok(**details)
