"""Multi-turn conversations: turns, a token-bounded context window, per-turn contracts.

A :class:`ConversationStateManager` records the turns of one conversation and judges
its invariants and temporal contracts on every assistant turn. The drop-in clients
record turns by themselves inside ``with client.conversation(session_id) as conv:``;
the active conversation lives in a :class:`contextvars.ContextVar`, so conversations
held by different threads or asyncio tasks never mix.

Contracts see a conversation as ``context.conversation``, a :class:`ConversationState`:
the turns so far (the answer being judged included), the number of the assistant turn
being judged, the messages the user added in that turn, and the application's facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from contextvars import Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ._exceptions import ContractConfigError, ContractViolationError
from ._ids import new_id
from ._scope import ACTIVE_CONVERSATION
from .contracts._base import Contract, Enforcement, ValidationContext, ValidationResult
from .contracts._temporal import Invariant, TemporalContract, TemporalSlot
from .contracts._tokens import (
    REPLY_PRIMING,
    TokenCount,
    count_tokens,
    message_tokens,
)
from .contracts._types import LLMRequest, LLMResponse, Message
from .enforcement._engine import ContractEngine, is_blocking

__all__ = [
    "ACTIVE_CONVERSATION",
    "ConversationScope",
    "ConversationState",
    "ConversationStateManager",
    "Turn",
    "active_conversation",
    "open_conversation",
]

log = logging.getLogger("llm_contracts")

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_INSTRUCTIONS = frozenset({"system", "developer"})


def active_conversation() -> ConversationStateManager | None:
    """Return the conversation the current ``with client.conversation(...)`` block records, if any."""
    return ACTIVE_CONVERSATION.get()


@dataclass(slots=True)
class Turn:
    """One message of a conversation.

    ``tokens`` counts the content's tokens with the conversation model's tokenizer;
    ``token_count`` says whether that number is exact (tiktoken) or an estimate.
    """

    role: str
    content: str
    index: int
    token_count: TokenCount
    metadata: dict[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    @property
    def tokens(self) -> int:
        return self.token_count.tokens

    @property
    def tokens_exact(self) -> bool:
        return self.token_count.exact

    def to_message(self) -> dict[str, str]:
        """Return the turn as a chat message."""
        return {"role": self.role, "content": self.content}

    def to_dict(self) -> dict[str, Any]:
        """Return the turn as plain data."""
        return {
            "index": self.index,
            "role": self.role,
            "content": self.content,
            "tokens": self.tokens,
            "tokens_exact": self.tokens_exact,
            "metadata": dict(self.metadata),
            "timestamp": self.timestamp,
        }


def _check_role(role: Any) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise ContractConfigError(f"a turn's role must be one of {', '.join(sorted(ROLES))}; got {role!r}")
    return role


def _cap(level: Enforcement, cap: Enforcement) -> Enforcement:
    order = (Enforcement.MONITOR, Enforcement.WARN, Enforcement.STRICT)
    return min(level, cap, key=order.index)


class _Capped(Contract):
    """A contract judged as itself, but enforced no harder than its conversation allows."""

    def __init__(self, inner: Contract, enforcement: Enforcement) -> None:
        super().__init__(
            inner.name,
            description=inner.description,
            category=inner.category,
            severity=inner.severity,
            priority=inner.priority,
            enforcement=enforcement,
            fail_open=inner.fail_open,
        )
        self.inner = inner

    def validate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return self.inner.validate(value, context)

    async def avalidate(self, value: Any, context: ValidationContext | None = None) -> ValidationResult:
        return await self.inner.avalidate(value, context)


class ConversationState:
    """What contracts see of a conversation while one assistant turn is judged.

    ``turns`` are the turns so far, the answer being judged included; ``turn_number``
    is that answer's number among the assistant turns (from 1); ``turn_request`` holds
    the messages the user added in this turn (what input-side triggers judge).
    """

    __slots__ = ("_answer", "_manager", "_new", "_turns", "turn_number", "turn_request")

    def __init__(
        self,
        manager: ConversationStateManager,
        *,
        new: list[Message],
        answer: str | None,
        turn_number: int,
        turn_request: LLMRequest,
    ) -> None:
        self._manager = manager
        self._new = new
        self._answer = answer
        self._turns: list[Turn] | None = None
        self.turn_number = turn_number
        self.turn_request = turn_request

    @property
    def session_id(self) -> str:
        return self._manager.session_id

    @property
    def manager(self) -> ConversationStateManager:
        return self._manager

    @property
    def turns(self) -> list[Turn]:
        if self._turns is None:
            # Built on first use: most contracts never look at the history.
            turns = self._manager.turns
            pending = [(m.role, m.content) for m in self._new]
            if self._answer is not None:
                pending.append(("assistant", self._answer))
            for role, content in pending:
                turns.append(self._manager._make_turn(role, content, len(turns), {}))
            self._turns = turns
        return list(self._turns)

    @property
    def context(self) -> dict[str, Any]:
        """Return the application's facts about the conversation (``conv.context``)."""
        return self._manager.context

    @property
    def contracts(self) -> list[Contract]:
        return self._manager.contracts

    @property
    def last_user_message(self) -> str | None:
        for m in reversed(self._new):
            if m.role == "user":
                return m.content
        return self._manager.last_user_message

    def get_context_for_contracts(self) -> dict[str, Any]:
        """Return the conversation's facts for contracts and LLMCL expressions (``context.user_name``)."""
        manager = self._manager
        data = manager.get_context_for_contracts()
        pending = [m.content for m in self._new]
        if self._answer is not None:
            pending.append(self._answer)
        counts = [count_tokens(text, manager.model) for text in pending]
        data.update(
            turn_count=data["turn_count"] + len(pending),
            assistant_turns=self.turn_number,
            last_user_message=self.last_user_message,
            total_tokens=data["total_tokens"] + sum(c.tokens for c in counts),
            tokens_exact=data["tokens_exact"] and all(c.exact for c in counts),
        )
        return data

    def temporal_slot(self, contract: TemporalContract) -> TemporalSlot:
        """Return ``contract``'s memory of this conversation (created empty on first use)."""
        return self._manager._slot(contract)

    def __repr__(self) -> str:
        return f"<ConversationState {self.session_id!r} turn {self.turn_number}>"


class ConversationStateManager:
    """The turns of one conversation and the contracts that hold across them.

    Parameters:
        session_id: the conversation's id (a random one when omitted).
        model: the model whose tokenizer counts the turns' tokens (exact with tiktoken
            for OpenAI models; otherwise a labelled estimate). The client sets it from
            the first call when omitted.
        max_context_tokens: the budget of :meth:`context_window`.
        keep_system: keep system and developer messages when the window is trimmed.
        invariants: contracts every assistant turn must meet.
        temporal_contracts: temporal contracts (always, never, eventually, next, until).
        enforcement: the strongest enforcement this conversation's own contracts get:
            ``"strict"`` raises :class:`ContractViolationError` (stage ``"conversation"``),
            ``"warn"`` logs, ``"monitor"`` only records.

    A conversation takes one call at a time (as a chat does); different conversations
    may run in parallel threads or tasks.

    Example::

        conv = ConversationStateManager("s-1", model="gpt-4o-mini", max_context_tokens=3000,
                                        temporal_contracts=[EventuallyContract(mentions_name, within=3)])
        conv.context["user_name"] = "Ada"
        conv.add_turn("user", "Hi, I'm Ada.")
        conv.add_turn("assistant", "Hello Ada!")     # judged here; strict raises
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        model: str | None = None,
        max_context_tokens: int | None = None,
        keep_system: bool = True,
        invariants: Iterable[Contract] = (),
        temporal_contracts: Iterable[Contract] = (),
        enforcement: Enforcement | str = Enforcement.STRICT,
    ) -> None:
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            raise ContractConfigError(f"session_id must be a non-empty str or None; got {session_id!r}")
        if model is not None and not isinstance(model, str):
            raise ContractConfigError(f"model must be a str or None; got {model!r}")
        if max_context_tokens is not None and (
            isinstance(max_context_tokens, bool)
            or not isinstance(max_context_tokens, int)
            or max_context_tokens < 1
        ):
            raise ContractConfigError(
                f"max_context_tokens must be a positive int or None; got {max_context_tokens!r}"
            )
        try:
            self.enforcement = Enforcement(str(enforcement).lower())
        except ValueError:
            raise ContractConfigError(
                f"enforcement must be one of strict, warn, monitor; got {enforcement!r}"
            ) from None
        self.session_id = session_id or new_id()
        self.model = model
        self.max_context_tokens = max_context_tokens
        self.keep_system = bool(keep_system)
        # The application's facts (user name, plan, locale...), read by contracts.
        self.context: dict[str, Any] = {}
        self.contracts: list[Contract] = []
        # Every failing verdict of this conversation's contracts, in order.
        self.violations: list[ValidationResult] = []
        self._turns: list[Turn] = []
        self._assistant_turns = 0
        # Running totals, so contracts reading them on every turn cost O(1).
        self._total_tokens = 0
        self._estimated = 0
        self._last_user: str | None = None
        # (role, content) of the system and developer messages recorded, so a resent one is known.
        self._instructions: set[tuple[str, str]] = set()
        self._slots: dict[Contract, TemporalSlot] = {}
        self._lock = threading.RLock()
        self._engine = ContractEngine()
        for c in invariants:
            self.add_invariant(c)
        for c in temporal_contracts:
            self.add_temporal_contract(c)

    # -- configuration -------------------------------------------------------------------

    def _checked(self, contract: Any, what: str) -> Contract:
        if not isinstance(contract, Contract):
            raise ContractConfigError(
                f"{what} must be a Contract; got {type(contract).__name__} ({contract!r})"
            )
        return contract

    def add_invariant(self, contract: Contract) -> None:
        """Require ``contract`` on every assistant turn of this conversation."""
        contract = self._checked(contract, "an invariant")
        if not isinstance(contract, TemporalContract):
            contract = Invariant(contract, name=contract.name, enforcement=contract.enforcement)
        self._add(contract)

    def add_temporal_contract(self, contract: Contract) -> None:
        """Judge ``contract`` (a temporal one, or any contract as an invariant) on every assistant turn."""
        contract = self._checked(contract, "a temporal contract")
        if not isinstance(contract, TemporalContract):
            self.add_invariant(contract)
            return
        self._add(contract)

    def _add(self, contract: Contract) -> None:
        level = _cap(contract.enforcement, self.enforcement)
        self.contracts.append(contract if level is contract.enforcement else _Capped(contract, level))

    # -- turns ---------------------------------------------------------------------------

    @property
    def turns(self) -> list[Turn]:
        """Return a copy of the turns recorded so far."""
        with self._lock:
            return list(self._turns)

    @property
    def assistant_turns(self) -> int:
        return self._assistant_turns

    @property
    def last_user_message(self) -> str | None:
        return self._last_user

    @property
    def total_tokens(self) -> int:
        """Return the tokens of every turn's content."""
        return self._total_tokens

    def __len__(self) -> int:
        return len(self._turns)

    def _make_turn(self, role: str, content: str, index: int, metadata: dict[str, Any]) -> Turn:
        return Turn(role, content, index, count_tokens(content, self.model), metadata)

    def _append(self, role: str, content: str, metadata: dict[str, Any]) -> Turn:
        with self._lock:
            turn = self._make_turn(role, content, len(self._turns), metadata)
            self._turns.append(turn)
            self._total_tokens += turn.tokens
            self._estimated += not turn.tokens_exact
            if role == "user":
                self._last_user = content
            if role in _INSTRUCTIONS:
                self._instructions.add((role, content))
            if role == "assistant":
                self._assistant_turns += 1
            return turn

    def add_turn(self, role: str, content: str, **metadata: Any) -> list[ValidationResult]:
        """Record a turn; an assistant turn is judged by the conversation's contracts.

        Return the verdicts (none for other roles). The turn is recorded even when it
        breaks a contract (it was said); under strict enforcement the violation then
        raises :class:`ContractViolationError` with ``stage="conversation"``.
        """
        state = self._record_manual(role, content, metadata)
        if state is None:
            return []
        context = ValidationContext(request=state.turn_request, conversation=state)
        response = LLMResponse(text=content, model=self.model or "")
        results = [self._engine.run_one(c, response, context) for c in self.contracts]
        return self._settle(results)

    async def aadd_turn(self, role: str, content: str, **metadata: Any) -> list[ValidationResult]:
        """Record a turn like :meth:`add_turn`, awaiting asynchronous contracts."""
        state = self._record_manual(role, content, metadata)
        if state is None:
            return []
        context = ValidationContext(request=state.turn_request, conversation=state)
        response = LLMResponse(text=content, model=self.model or "")
        results = [await self._engine.arun_one(c, response, context) for c in self.contracts]
        return self._settle(results)

    def _record_manual(self, role: str, content: str, metadata: dict[str, Any]) -> ConversationState | None:
        _check_role(role)
        if not isinstance(content, str):
            raise ContractConfigError(f"a turn's content must be a str; got {type(content).__name__}")
        with self._lock:
            if role != "assistant":
                self._append(role, content, metadata)
                return None
            new = [Message(t.role, t.content) for t in self._pending_tail()]
            self._append(role, content, metadata)
            return ConversationState(
                self,
                new=[],
                answer=None,
                turn_number=self._assistant_turns,
                turn_request=self._turn_request(new),
            )

    def _settle(self, results: list[ValidationResult]) -> list[ValidationResult]:
        failed = [r for r in results if not r.is_valid]
        self.violations.extend(failed)
        blocking = [r for r in failed if is_blocking(r)]
        if blocking:
            first = blocking[0]
            raise ContractViolationError(
                f"conversation {self.session_id!r}, turn {self._assistant_turns}: contract "
                f"{first.contract_name} violated: {first.message}",
                results=blocking,
                stage="conversation",
            )
        return results

    def _pending_tail(self) -> list[Turn]:
        """Return the turns after the last assistant turn (what the user added since)."""
        tail: list[Turn] = []
        for turn in reversed(self._turns):
            if turn.role == "assistant":
                break
            tail.append(turn)
        return tail[::-1]

    def _turn_request(self, new: list[Message]) -> LLMRequest:
        return LLMRequest(model=self.model or "", messages=[m for m in new if m.role not in _INSTRUCTIONS])

    # -- what the clients call -------------------------------------------------------------

    def _new_messages(self, request: LLMRequest) -> tuple[list[Message], list[Message]]:
        """Return (this turn's messages, those of them not recorded yet) for a request.

        A turn's messages are those after the request's last assistant message: it works
        whether the application resends the whole history, a trimmed window, or only
        the new message. Instructions already recorded and a tail the application
        recorded itself with ``add_turn`` are not recorded twice.
        """
        messages = request.messages
        cut = len(messages)
        while cut > 0 and messages[cut - 1].role != "assistant":
            cut -= 1
        turn = messages[cut:]
        with self._lock:
            seen = self._instructions
            tail = [(t.role, t.content) for t in self._pending_tail() if t.role not in _INSTRUCTIONS]
        fresh = [m for m in turn if not (m.role in _INSTRUCTIONS and (m.role, m.content) in seen)]
        if tail and [(m.role, m.content) for m in fresh[: len(tail)]] == tail:
            fresh = fresh[len(tail) :]
        return turn, fresh

    def _learn_model(self, model: str) -> None:
        # Turns the app added before the first call were counted without a tokenizer.
        with self._lock:
            self.model = model
            for turn in self._turns:
                turn.token_count = count_tokens(turn.content, model)
            self._total_tokens = sum(t.tokens for t in self._turns)
            self._estimated = sum(not t.tokens_exact for t in self._turns)

    def view_for(self, request: LLMRequest, response: LLMResponse | None) -> ConversationState:
        """Return the state contracts see while judging ``response`` to ``request`` (not recorded yet)."""
        if self.model is None and request.model:
            self._learn_model(request.model)
        turn, fresh = self._new_messages(request)
        return ConversationState(
            self,
            new=fresh,
            answer=None if response is None else response.text,
            turn_number=self._assistant_turns + 1,
            turn_request=self._turn_request(turn),
        )

    def record_exchange(self, request: LLMRequest, response: LLMResponse) -> None:
        """Record the messages ``request`` added and the kept ``response`` as turns."""
        if self.model is None and request.model:
            self._learn_model(request.model)
        _turn, fresh = self._new_messages(request)
        with self._lock:
            for m in fresh:
                self._append(m.role if m.role in ROLES else "user", m.content, {})
            meta: dict[str, Any] = {"model": response.model or request.model}
            if response.finish_reason:
                meta["finish_reason"] = response.finish_reason
            if response.tool_calls:
                meta["tool_calls"] = [c.name for c in response.tool_calls]
            self._append("assistant", response.text, meta)

    def scope(self) -> ConversationScope:
        """Return a ``with`` / ``async with`` block in which the contracted clients record this."""
        return ConversationScope(self)

    def _slot(self, contract: TemporalContract) -> TemporalSlot:
        with self._lock:
            slot = self._slots.get(contract)
            if slot is None:
                slot = self._slots[contract] = TemporalSlot()
            return slot

    # -- reading -------------------------------------------------------------------------

    def messages(self) -> list[dict[str, str]]:
        """Return every turn as a chat message."""
        return [t.to_message() for t in self.turns]

    def context_window(self, max_tokens: int | None = None) -> list[dict[str, str]]:
        """Return the messages to send, trimmed to ``max_tokens`` (default ``max_context_tokens``).

        The oldest turns go first; system and developer messages stay when
        ``keep_system`` is set. Tokens are counted as the API bills a prompt (message
        overheads and reply priming included), exactly for models tiktoken knows.
        """
        budget = self.max_context_tokens if max_tokens is None else max_tokens
        turns = self.turns
        if budget is None:
            return [t.to_message() for t in turns]
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ContractConfigError(f"max_tokens must be a positive int; got {budget!r}")
        costs = [message_tokens(t.to_message(), self.model) for t in turns]
        total = REPLY_PRIMING + sum(costs)
        keep = [True] * len(turns)
        for i, turn in enumerate(turns):
            if total <= budget:
                break
            if self.keep_system and turn.role in _INSTRUCTIONS:
                continue
            keep[i] = False
            total -= costs[i]
        return [t.to_message() for t, k in zip(turns, keep, strict=True) if k]

    def context_tokens(self, max_tokens: int | None = None) -> TokenCount:
        """Return the prompt tokens of :meth:`context_window`, labelled exact or estimate."""
        from .contracts._tokens import count_message_tokens

        return count_message_tokens(self.context_window(max_tokens), self.model)

    def get_context_for_contracts(self) -> dict[str, Any]:
        """Return the conversation's facts for contracts and LLMCL expressions.

        The application's own facts (``conv.context["user_name"] = "Ada"``) come first;
        ``session_id``, ``turn_count``, ``assistant_turns``, ``last_user_message``,
        ``total_tokens`` and ``tokens_exact`` are always present.
        """
        data: dict[str, Any] = dict(self.context)
        with self._lock:
            data.update(
                session_id=self.session_id,
                turn_count=len(self._turns),
                assistant_turns=self._assistant_turns,
                last_user_message=self._last_user,
                total_tokens=self._total_tokens,
                tokens_exact=self._estimated == 0,
                model=self.model,
            )
        return data

    def to_dict(self) -> dict[str, Any]:
        """Return the conversation as plain data."""
        return {
            "session_id": self.session_id,
            "model": self.model,
            "context": dict(self.context),
            "turns": [t.to_dict() for t in self.turns],
        }

    def __repr__(self) -> str:
        return f"<ConversationStateManager {self.session_id!r} turns={len(self._turns)}>"


class ConversationScope:
    """A block in which the contracted clients record one conversation.

    Works as ``with`` in sync and async code alike (the active conversation is a
    context variable, private to the thread or task), and as ``async with``.
    """

    __slots__ = ("_tokens", "conversation")

    def __init__(self, conversation: ConversationStateManager) -> None:
        self.conversation = conversation
        self._tokens: list[Token[ConversationStateManager | None]] = []

    def __enter__(self) -> ConversationStateManager:
        self._tokens.append(ACTIVE_CONVERSATION.set(self.conversation))
        return self.conversation

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ACTIVE_CONVERSATION.reset(self._tokens.pop())

    async def __aenter__(self) -> ConversationStateManager:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def open_conversation(
    session_id: str | ConversationStateManager | None = None, **options: Any
) -> ConversationScope:
    """Return a scope for an existing conversation, or for a new one built from ``options``."""
    if isinstance(session_id, ConversationStateManager):
        if options:
            raise ContractConfigError(
                f"options {sorted(options)} given with an existing conversation; set them on it instead"
            )
        return ConversationScope(session_id)
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ContractConfigError(
            f"unknown conversation option(s) {', '.join(unknown)}; "
            f"expected some of {', '.join(sorted(_OPTIONS))}"
        )
    return ConversationScope(ConversationStateManager(session_id, **options))


_OPTIONS = frozenset(
    {"model", "max_context_tokens", "keep_system", "invariants", "temporal_contracts", "enforcement"}
)
