"""Shared LLMCL sources and helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llm_contracts.contracts import FunctionContract
from llm_contracts.contracts._registry import ContractRegistry
from llm_contracts.llmcl import LLMCLError, compile_source

SUPPORT = """\
import "common.llmcl"
// The support bot's replies.
contract SupportReply version 3 priority high extends BaseReply {
  description "Replies of the support bot"
  require tokens(input) <= 4000
  require not matches(input, /ignore (all )?previous instructions/i) severity critical
  require not injection(input)
  ensure json(output) conforms "ticket.schema.json"
  ensure len(output) <= 2000 else fix truncate
  ensure not pii(output) else fix redact
  ensure use "company_tone"            # a named Python contract from the registry
  ensure_every_turn not contains(output, "As an AI")
  eventually within 3 turns: mentions(output, context.user_name)
  always: not refusal(output)
  never: contains(output, "guarantee")
  next after contains(input, "refund"): contains(output, "policy")
  until contains(output, "ticket #"): not contains(output, "resolved")
  on violation retry 2 with "Answer with the JSON object only."
  on violation fallback "Sorry, I can't help with that right now."
  enforcement strict
}
"""

COMMON = """\
contract BaseReply severity warning {
  ensure not contains(output, "lorem ipsum")
}
"""

TICKET_SCHEMA = '{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}'


@pytest.fixture
def registry() -> ContractRegistry:
    """A registry with the built-ins and one house contract, "company_tone"."""
    reg = ContractRegistry()
    reg.register(
        "company_tone",
        lambda **kw: FunctionContract(lambda t: "dude" not in t.lower(), name="company_tone", **kw),
    )
    return reg


@pytest.fixture
def support_dir(tmp_path: Path) -> Path:
    (tmp_path / "support.llmcl").write_text(SUPPORT)
    (tmp_path / "common.llmcl").write_text(COMMON)
    (tmp_path / "ticket.schema.json").write_text(TICKET_SCHEMA)
    return tmp_path


@pytest.fixture
def error_of(registry: ContractRegistry) -> Callable[..., LLMCLError]:
    """Compile source that must fail; return the error."""

    def compile_failing(source: str, **kwargs: object) -> LLMCLError:
        kwargs.setdefault("registry", registry)
        with pytest.raises(LLMCLError) as caught:
            compile_source(source, **kwargs)  # type: ignore[arg-type]
        return caught.value

    return compile_failing


def caret_line(error: LLMCLError) -> str:
    """Return the line of carets of a rendered diagnostic."""
    return error.render().splitlines()[2]
