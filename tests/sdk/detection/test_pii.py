"""The PII redactor on the shipped labelled set: cards, e-mails, phones, IBANs, SSNs, IPs, secrets."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from llm_contracts import ContractOpenAI, ContractViolationError
from llm_contracts.contracts import PIIContract, find_pii, redact
from llm_contracts.testing import FakeLLM

from ._scoring import load

ROWS = load("pii_eval.jsonl")

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
LEAKS = [
    ("Order 12 4111111111111111", "4111111111111111", "[CREDIT_CARD]"),
    ("Order 12 4111 1111 1111 1111, qty 2", "4111 1111 1111 1111", "[CREDIT_CARD]"),
    ("card 41111111 1111 1111 on file", "41111111 1111 1111", "[CREDIT_CARD]"),
    ("client 203.0.113.77 retried", "203.0.113.77", "[IP_ADDRESS]"),
    ("from 2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334", "[IP_ADDRESS]"),
    ("aws key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "[SECRET]"),
    ("key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "[SECRET]"),
    (
        "key sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
        "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
        "[SECRET]",
    ),
    (
        "token ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "[SECRET]",
    ),
    ("SLACK=xoxb-2048-4096-aB3dE6gH9jK2mN5p", "xoxb-2048-4096-aB3dE6gH9jK2mN5p", "[SECRET]"),
    (f"Authorization: Bearer {JWT}", JWT, "[SECRET]"),
]


def request_body(prompt: str, contract: PIIContract) -> dict[str, Any]:
    fake = FakeLLM()
    client = ContractOpenAI(
        api_key="test", http_client=fake.http_client(), max_retries=0, input_contracts=[contract]
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    return fake.requests[-1]


@pytest.mark.parametrize(("prompt", "secret", "placeholder"), LEAKS)
def test_the_redacting_contract_sends_no_card_ip_or_key(prompt, secret, placeholder):
    sent = request_body(prompt, PIIContract(redact=True))["messages"][0]["content"]

    assert secret not in sent
    assert placeholder in sent
    assert redact(prompt) == sent


@pytest.mark.parametrize(("prompt", "secret", "placeholder"), LEAKS[:1])
def test_a_card_after_a_number_fails_the_checking_contract(prompt, secret, placeholder):
    fake = FakeLLM()
    client = ContractOpenAI(
        api_key="test", http_client=fake.http_client(), max_retries=0, input_contracts=[PIIContract()]
    )

    with pytest.raises(ContractViolationError, match="credit card number"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert fake.requests == []


def test_the_set_has_300_positives_over_every_kind_and_300_look_alikes():
    kinds = collections.Counter(r["kind"] for r in ROWS if r["label"] == "pii")
    assert sum(kinds.values()) >= 300
    assert set(kinds) >= {"credit_card", "email", "phone", "iban", "us_ssn", "ip_address", "secret"}
    assert sum(r["label"] == "clean" for r in ROWS) >= 300
    for row in ROWS:
        assert row["label"] == "clean" or row["value"] in row["text"], row


@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_recall_and_precision_stay_above_their_floors(split):
    found: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    false_positives = []
    for row in (r for r in ROWS if r.get("split", "dev") == split):
        findings = find_pii(row["text"])
        if row["label"] == "clean":
            if findings:
                false_positives.append(row["text"])
            continue
        start = row["text"].index(row["value"])
        end = start + len(row["value"])
        total[row["kind"]] += 1
        found[row["kind"]] += any(
            f.kind == row["kind"] and f.start <= start and f.end >= end for f in findings
        )

    recall = sum(found.values()) / sum(total.values())
    precision = sum(found.values()) / (sum(found.values()) + len(false_positives))
    assert recall >= 0.98, {k: f"{found[k]}/{total[k]}" for k in total}
    assert precision >= 0.98, false_positives
    assert all(found[k] / total[k] >= 0.95 for k in total), {k: f"{found[k]}/{total[k]}" for k in total}
