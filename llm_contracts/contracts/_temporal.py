"""Temporal contracts: conditions over the assistant turns of a conversation.

Each operator judges ordinary inner contracts on one turn at a time and keeps what it
must remember about earlier turns (has the goal been met? did the trigger fire?) in
the conversation itself, one slot per contract, so one contract object serves any
number of conversations at once. Turns are the assistant's answers, numbered from 1.

A turn may be judged several times (the client re-asks the model after a violation):
every judgement of turn *k* starts again from what was known after turn *k - 1*, so
only the answer that is finally kept counts. A call without a conversation is judged
as a one-turn conversation.

Inner contracts of category ``INPUT`` (a trigger such as "the user asked for a
refund") are judged on the turn's request, that is the messages the user added in
that turn; all others on the turn's answer.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from .._exceptions import ContractConfigError
from ._base import Category, Contract, ValidationContext, ValidationResult
from ._types import LLMRequest

__all__ = [
    "AlwaysContract",
    "EventuallyContract",
    "Invariant",
    "NeverContract",
    "NextContract",
    "TemporalContract",
    "TemporalSlot",
    "UntilContract",
]

# What an operator's step yields (an inner contract to judge) and returns (its verdict
# on the turn and the memo to keep for the next turn).
Step = Generator[Contract, ValidationResult, tuple[ValidationResult, Any]]


@dataclass(slots=True)
class TemporalSlot:
    """One temporal contract's memory of one conversation.

    ``start`` is the turn on which the contract first judged the conversation (its
    activation); ``memo`` is what was known after the turns before ``turn``;
    ``pending`` is the latest judgement of ``turn`` itself, kept once a later turn
    shows that ``turn`` became part of the conversation.
    """

    start: int = 0
    turn: int = 0
    memo: Any = None
    pending: Any = None


class TemporalContract(Contract):
    """Base class of the operators: judge inner contracts turn by turn.

    Subclasses implement :meth:`step`, a generator that yields the inner contracts it
    needs judged on this turn and returns ``(verdict, memo)``.
    """

    default_category: ClassVar[Category] = Category.TEMPORAL
    # The memo of a conversation the contract has not judged yet.
    initial: ClassVar[Any] = None
    # Operators that remember nothing between turns skip the slot entirely.
    stateful: ClassVar[bool] = True

    def __init__(self, *inner: Contract, name: str | None = None, **kwargs: Any) -> None:
        for i, c in enumerate(inner):
            if not isinstance(c, Contract):
                raise ContractConfigError(
                    f"{type(self).__name__} needs Contract objects; argument {i + 1} is "
                    f"{type(c).__name__} ({c!r})"
                )
        kwargs.setdefault("severity", max((c.severity for c in inner), key=lambda s: s.rank))
        kwargs.setdefault("priority", max(c.priority for c in inner))
        super().__init__(name or self._default_name(), **kwargs)

    def _default_name(self) -> str:
        raise NotImplementedError

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        """Judge one turn: ``turn`` counts from the contract's activation, ``absolute`` from the start."""
        raise NotImplementedError

    # -- driving the step ------------------------------------------------------------

    def _begin(self, context: ValidationContext | None) -> tuple[TemporalSlot | None, int, int, Any]:
        conversation = context.conversation if context is not None else None
        if conversation is None:
            return None, 1, 1, self.initial
        absolute = int(conversation.turn_number)
        if not self.stateful:
            return None, absolute, absolute, self.initial
        slot: TemporalSlot = conversation.temporal_slot(self)
        if slot.turn == 0 or absolute < slot.turn:
            # First sight of this conversation, or it was rewound: start afresh here.
            slot.start, slot.memo = absolute, self.initial
        elif absolute > slot.turn:
            # A later turn proves the judged one was kept: its judgement becomes history.
            slot.memo = slot.pending
        slot.turn = absolute
        return slot, absolute - slot.start + 1, absolute, slot.memo

    @staticmethod
    def _end(slot: TemporalSlot | None, memo: Any) -> None:
        if slot is not None:
            slot.pending = memo

    @staticmethod
    def _subject(inner: Contract, value: Any, context: ValidationContext | None) -> Any:
        if inner.category is not Category.INPUT:
            return value
        conversation = context.conversation if context is not None else None
        request = getattr(conversation, "turn_request", None)
        if request is None and context is not None:
            request = context.request
        return request if request is not None else LLMRequest(model="", messages=[])

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        slot, turn, absolute, memo = self._begin(context)
        gen = self.step(memo, turn, absolute)
        verdict: Any = None
        try:
            while True:
                inner = gen.send(verdict)
                verdict = inner.validate(self._subject(inner, value, context), context)
        except StopIteration as done:
            result, memo = done.value
        self._end(slot, memo)
        return result  # type: ignore[no-any-return]

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        slot, turn, absolute, memo = self._begin(context)
        gen = self.step(memo, turn, absolute)
        verdict: Any = None
        try:
            while True:
                inner = gen.send(verdict)
                verdict = await inner.avalidate(self._subject(inner, value, context), context)
        except StopIteration as done:
            result, memo = done.value
        self._end(slot, memo)
        return result  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        data = super().describe()
        data["operator"] = type(self).__name__
        return data


class AlwaysContract(TemporalContract):
    """Require ``inner`` to hold on every assistant turn.

    Example::

        AlwaysContract(RegexContract(r"As an AI", must_match=False))
    """

    stateful = False

    def __init__(self, inner: Contract, name: str | None = None, **kwargs: Any) -> None:
        self.inner = inner
        super().__init__(inner, name=name, **kwargs)

    def _default_name(self) -> str:
        return f"always({self.inner.name})"

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        r = yield self.inner
        if r.is_valid:
            return self.ok(turn=absolute), memo
        return self.fail(
            f"{self.inner.name} must hold on every turn; it failed on turn {absolute}: {r.message}",
            suggestion=r.auto_fix_suggestion,
            turn=absolute,
        ), memo


class Invariant(AlwaysContract):
    """Require ``inner`` on every assistant turn (LLMCL's ``ensure_every_turn``)."""

    def _default_name(self) -> str:
        return f"invariant({self.inner.name})"


class NeverContract(TemporalContract):
    """Require ``inner`` to hold on no assistant turn.

    Example::

        NeverContract(RegexContract(r"(?i)guaranteed refund"))
    """

    stateful = False

    def __init__(self, inner: Contract, name: str | None = None, **kwargs: Any) -> None:
        self.inner = inner
        super().__init__(inner, name=name, **kwargs)

    def _default_name(self) -> str:
        return f"never({self.inner.name})"

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        r = yield self.inner
        if not r.is_valid:
            return self.ok(turn=absolute), memo
        return self.fail(
            f"{self.inner.name} must never hold; it held on turn {absolute}",
            suggestion=f"Write an answer for which {self.inner.name} does not hold.",
            turn=absolute,
        ), memo


_OPEN, _MET, _MISSED = "open", "met", "missed"


class EventuallyContract(TemporalContract):
    """Require ``inner`` to hold on some turn among the first ``within`` turns.

    Turns count from the start of the conversation, or from the turn on which the
    contract first saw it. The violation is reported once, on turn ``within`` (an
    answer kept after it cannot go back in time); once ``inner`` has held, the
    contract is met for the rest of the conversation.

    Example::

        EventuallyContract(RegexContract("Ada"), within=3)   # greet Ada by turn 3
    """

    initial = _OPEN

    def __init__(self, inner: Contract, within: int, name: str | None = None, **kwargs: Any) -> None:
        if isinstance(within, bool) or not isinstance(within, int) or within < 1:
            raise ContractConfigError(
                f"EventuallyContract: within must be an int >= 1 (a number of turns); got {within!r}"
            )
        self.inner = inner
        self.within = within
        super().__init__(inner, name=name, **kwargs)

    def _default_name(self) -> str:
        return f"eventually({self.inner.name}, within={self.within})"

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        if memo == _MET:
            return self.ok(turn=absolute, status=_MET), memo
        if memo == _MISSED:
            return self.ok(turn=absolute, status=_MISSED), memo
        r = yield self.inner
        if r.is_valid:
            return self.ok(turn=absolute, status=_MET), _MET
        if turn < self.within:
            return self.ok(turn=absolute, status=_OPEN, turns_left=self.within - turn), memo
        return self.fail(
            f"{self.inner.name} did not hold within {self.within} turn(s) "
            f"(last chance was turn {absolute}): {r.message}",
            suggestion=r.auto_fix_suggestion,
            turn=absolute,
            status=_MISSED,
        ), _MISSED

    def describe(self) -> dict[str, Any]:
        data = super().describe()
        data["within"] = self.within
        return data


class NextContract(TemporalContract):
    """Require ``inner`` on the turn after each turn on which ``trigger`` holds.

    Without a trigger, ``inner`` must hold on the second turn. A trigger of category
    ``INPUT`` is judged on what the user sent in that turn.

    Example::

        asks_name = RegexContract(r"(?i)my name is", category="input")
        NextContract(RegexContract(r"(?i)nice to meet you"), trigger=asks_name)
    """

    def __init__(
        self, inner: Contract, trigger: Contract | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        self.inner = inner
        self.trigger = trigger
        super().__init__(*(inner,) if trigger is None else (inner, trigger), name=name, **kwargs)

    def _default_name(self) -> str:
        if self.trigger is None:
            return f"next({self.inner.name})"
        return f"next({self.inner.name}, after={self.trigger.name})"

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        # memo: the absolute turn on which the trigger last held.
        if self.trigger is None:
            if turn != 2:
                return self.ok(turn=absolute), memo
            r = yield self.inner
            if r.is_valid:
                return self.ok(turn=absolute), memo
            return self.fail(
                f"{self.inner.name} must hold on the second turn: {r.message}",
                suggestion=r.auto_fix_suggestion,
                turn=absolute,
            ), memo
        result = self.ok(turn=absolute)
        if memo is not None and memo == absolute - 1:
            r = yield self.inner
            if not r.is_valid:
                result = self.fail(
                    f"{self.trigger.name} held on turn {memo}, so {self.inner.name} must "
                    f"hold on turn {absolute}: {r.message}",
                    suggestion=r.auto_fix_suggestion,
                    turn=absolute,
                    triggered_on=memo,
                )
        fired = yield self.trigger
        return result, absolute if fired.is_valid else memo

    def describe(self) -> dict[str, Any]:
        data = super().describe()
        data["trigger"] = None if self.trigger is None else self.trigger.name
        return data


class UntilContract(TemporalContract):
    """Require ``hold`` on every turn until the turn on which ``release`` holds; then nothing.

    ``hold`` need not hold on the releasing turn itself, and ``release`` never has to
    come (a weak until).

    Example::

        verified = RegexContract(r"(?i)identity verified", category="input")
        UntilContract(RegexContract(r"\\d{4}", must_match=False), release=verified)
    """

    initial = False

    def __init__(self, hold: Contract, release: Contract, name: str | None = None, **kwargs: Any) -> None:
        self.hold = hold
        self.release = release
        super().__init__(hold, release, name=name, **kwargs)

    def _default_name(self) -> str:
        return f"until({self.hold.name}, release={self.release.name})"

    def step(self, memo: Any, turn: int, absolute: int) -> Step:
        if memo:
            return self.ok(turn=absolute, released=True), memo
        released = yield self.release
        if released.is_valid:
            return self.ok(turn=absolute, released=True), True
        r = yield self.hold
        if r.is_valid:
            return self.ok(turn=absolute, released=False), memo
        return self.fail(
            f"{self.hold.name} must hold until {self.release.name} does; it failed on turn "
            f"{absolute}: {r.message}",
            suggestion=r.auto_fix_suggestion,
            turn=absolute,
        ), memo

    def describe(self) -> dict[str, Any]:
        data = super().describe()
        data["release"] = self.release.name
        return data
