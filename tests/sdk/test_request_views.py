"""Contracts judge and fix a request through its provider's view, whatever the wire format.

``BlocksView`` below is a provider of its own (a system prompt beside the messages, text
in content blocks, output capped by ``max_tokens``, temperature within 0..1): the
built-in input contracts know nothing of it, and still read its requests and write their
fixes into its bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_contracts.contracts import (
    DROP,
    LLMRequest,
    LLMResponse,
    Message,
    ParamSpec,
    PIIContract,
    PromptLengthContract,
    RequestEdit,
    RequestParametersContract,
)


class BlocksView:
    """A request view for bodies such as ``{"system": ..., "messages": [{"role", "content": [blocks]}]}``."""

    provider = "blocks"
    endpoint = "/v1/messages"
    param_specs = {
        "temperature": ParamSpec("temperature", 0.0, 1.0),
        "max_tokens": ParamSpec("output_tokens", 1),
    }

    def read(self, body: Mapping[str, Any]) -> LLMRequest:
        messages = [Message("system", body["system"])] if "system" in body else []
        for m in body["messages"]:
            text = "\n".join(b["text"] for b in m["content"] if b["type"] == "text")
            messages.append(Message(m["role"], text))
        params = {k: body[k] for k in self.param_specs if k in body}
        return LLMRequest(
            model=body["model"],
            messages=messages,
            params=params,
            provider=self.provider,
            endpoint=self.endpoint,
            body=dict(body),
            view=self,
        )

    def apply(self, request: LLMRequest, edit: RequestEdit) -> LLMRequest:
        body = dict(request.body)
        offset = 1 if "system" in body else 0
        kept = []
        for i, m in enumerate(body["messages"], start=offset):
            if i in edit.drop:
                continue
            parts = [dict(b) for b in m["content"]]
            if i in edit.texts:
                parts = [{"type": "text", "text": edit.texts[i]}, *(b for b in parts if b["type"] != "text")]
            if edit.rewrite is not None and (edit.roles is None or m["role"] in edit.roles):
                fn = edit.rewrite
                parts = [{**b, "text": fn(b["text"])} if b["type"] == "text" else b for b in parts]
            kept.append({**m, "content": parts})
        body["messages"] = kept
        if "system" in body and edit.rewrite is not None and (edit.roles is None or "system" in edit.roles):
            body["system"] = edit.rewrite(body["system"])
        for name, value in edit.params.items():
            if value is DROP:
                body.pop(name, None)
            else:
                body[name] = value
        return self.read(body)

    def message_problems(self, request: LLMRequest) -> list[str]:
        return [
            f"messages[{i}] has no content blocks"
            for i, m in enumerate(request.body["messages"])
            if not m["content"]
        ]

    def reask(self, body: Mapping[str, Any], answer: LLMResponse, feedback: str) -> dict[str, Any]:
        turns = [
            {"role": "assistant", "content": [{"type": "text", "text": answer.text}]},
            {"role": "user", "content": [{"type": "text", "text": feedback}]},
        ]
        return {**body, "messages": [*body["messages"], *turns]}


IMAGE = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}


def blocks(role: str, text: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}, *extra]}


def request(*messages: dict[str, Any], **params: Any) -> LLMRequest:
    return BlocksView().read(
        {"model": "gpt-4o-mini", "system": "Be brief.", "messages": list(messages), **params}
    )


def test_redaction_reaches_every_text_block_and_leaves_images_alone() -> None:
    original = request(blocks("user", "mail ada@example.com", IMAGE))

    fixed = PIIContract(redact=True).validate(original).fixed_value

    assert fixed.body["messages"] == [blocks("user", "mail [EMAIL]", IMAGE)]
    assert fixed.messages[1].content == "mail [EMAIL]"
    assert original.body["messages"] == [blocks("user", "mail ada@example.com", IMAGE)]


def test_truncation_drops_old_turns_in_the_providers_own_shape() -> None:
    original = request(
        blocks("user", "old " * 100), blocks("assistant", "noted"), blocks("user", "new question")
    )

    fixed = PromptLengthContract(max_tokens=40, truncate=True).validate(original).fixed_value

    assert fixed.body["system"] == "Be brief."
    assert fixed.body["messages"] == [blocks("assistant", "noted"), blocks("user", "new question")]


def test_parameters_are_judged_against_the_providers_own_ranges() -> None:
    result = RequestParametersContract(auto_fix=True).validate(request(blocks("user", "hi"), temperature=1.5))

    assert "temperature must be between 0 and 1" in result.message
    assert result.fixed_value.body["temperature"] == 1.0


def test_the_provider_names_what_it_would_reject_in_its_messages() -> None:
    result = RequestParametersContract().validate(request({"role": "user", "content": []}))

    assert not result.is_valid and "messages[0] has no content blocks" in result.message


def test_a_request_without_a_provider_is_edited_in_the_neutral_dict_form() -> None:
    hand_built = LLMRequest(
        model="gpt-4o", messages=[Message("user", "card 4111 1111 1111 1111")], params={"temperature": 3.0}
    )

    fixed = RequestParametersContract(auto_fix=True).validate(hand_built).fixed_value
    redacted = fixed.edited(rewrite=lambda text: text.replace("4111 1111 1111 1111", "[CARD]"))

    assert redacted.body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "card [CARD]"}],
        "temperature": 2.0,
    }
    assert redacted.params == {"temperature": 2.0}
