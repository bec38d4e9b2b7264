"""The public surface of the SDK: what ``llm_contracts`` exports and what importing it costs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import llm_contracts

ROOT = Path(llm_contracts.__file__).resolve().parent.parent


def test_all_is_sorted():
    assert list(llm_contracts.__all__) == sorted(llm_contracts.__all__)


def test_all_has_no_duplicates():
    assert len(set(llm_contracts.__all__)) == len(llm_contracts.__all__)


@pytest.mark.parametrize("name", llm_contracts.__all__)
def test_every_exported_name_imports(name):
    module = importlib.import_module("llm_contracts")

    assert getattr(module, name) is not None


@pytest.mark.parametrize(
    "package", ["llm_contracts.enforcement", "llm_contracts.providers", "llm_contracts.testing"]
)
def test_subpackages_export_what_they_list(package):
    module = importlib.import_module(package)

    assert list(module.__all__) == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_the_drop_in_clients_are_openai_clients():
    import openai

    assert issubclass(llm_contracts.ContractOpenAI, openai.OpenAI)
    assert issubclass(llm_contracts.AsyncContractOpenAI, openai.AsyncOpenAI)


def test_importing_the_sdk_loads_no_server_or_optional_heavy_modules():
    # A fresh interpreter: this test process has loaded whatever other tests needed.
    code = (
        "import sys, json, llm_contracts; "
        "print(json.dumps(sorted(m for m in ('django', 'tiktoken', 'jsonschema') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert json.loads(out.stdout) == []


def test_importing_the_sdk_defers_what_a_plain_client_does_not_run():
    # The built-in contracts, conversations, decorators, the debugger and the profiler load
    # when first used: `import llm_contracts` pays for the client, not for thirty contracts.
    deferred = (
        "llm_contracts.contracts.composition",
        "llm_contracts.contracts._json",
        "llm_contracts.contracts._input",
        "llm_contracts.contracts._semantic",
        "llm_contracts.conversation",
        "llm_contracts.decorators",
        "llm_contracts.debugging._debugger",
        "llm_contracts.debugging._profiler",
        "llm_contracts.llmcl",
        "llm_contracts.reporting._sync",
        "llm_contracts.experiments._rules",
    )
    code = (
        "import sys, json, llm_contracts; "
        f"print(json.dumps([m for m in {deferred!r} if m in sys.modules])); "
        "llm_contracts.JSONFormatContract, llm_contracts.ConversationStateManager, llm_contracts.pre; "
        f"print(json.dumps([m for m in {deferred!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, after = (json.loads(line) for line in out.stdout.splitlines())

    assert before == []
    used = {"llm_contracts.contracts._json", "llm_contracts.conversation", "llm_contracts.decorators"}
    assert used <= set(after)


_PLAIN_CALL = """
import json, sys
import openai._base_client as base
exec(IMPORT_CLIENT)

http = getattr(base, "httpx2", None) or base.httpx
body = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
answer = lambda request: http.Response(200, headers={"content-type": "application/json"}, content=body)
client = Client(api_key="k", base_url="http://test.invalid/v1", max_retries=0,
                http_client=http.Client(transport=http.MockTransport(answer)))
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
assert reply.choices[0].message.content == "hi"
print(json.dumps([m for m in DEFERRED if m in sys.modules]))
"""


def test_a_plain_clients_import_and_first_call_load_only_what_they_run():
    # No contracts, no reporter: the tracer, PII, the judge, the tokenizer's tables, the
    # events' and spool's builders, the Azure clients and the other providers' views wait.
    deferred = (
        "llm_contracts.debugging._trace",
        "llm_contracts.contracts._pii",
        "llm_contracts.contracts._judge",
        "llm_contracts.contracts._output",
        "llm_contracts.contracts._tokens",
        "llm_contracts.contracts._limits",
        "llm_contracts.reporting._events",
        "llm_contracts.reporting._spool",
        "llm_contracts.providers._azure",
        "llm_contracts.providers._specs",
        "llm_contracts.providers._anthropic_views",
        "llm_contracts.providers._cohere_views",
        "llm_contracts.experiments",
        "gzip",
        "concurrent.futures.thread",
    )

    def loaded(import_client: str) -> set[str]:
        code = f"DEFERRED = {deferred!r}\nIMPORT_CLIENT = {import_client!r}\n" + _PLAIN_CALL
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return set(json.loads(out.stdout.splitlines()[-1]))

    # What openai's own client loads for the same call (the thread pool, on openai 2.x) is
    # not ours to defer.
    raw = loaded("from openai import OpenAI as Client")
    assert not any(name.startswith("llm_contracts") for name in raw)
    assert sorted(loaded("from llm_contracts import ContractOpenAI as Client") - raw) == []


def test_the_registry_registers_the_built_in_providers_when_first_read():
    code = (
        "import sys, json, llm_contracts; "
        "from llm_contracts.providers import get_provider, provider_names; "
        "before = 'llm_contracts.providers._specs' in sys.modules; "
        "limits = get_provider('openai').model_limits('gpt-4o'); "
        "print(json.dumps([before, provider_names(), limits.context_window]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    before, names, window = json.loads(out.stdout)
    assert before is False
    assert {"anthropic", "cohere", "openai"} <= set(names)
    assert window == 128_000


def test_a_lazily_exported_name_is_the_defining_modules_object():
    from llm_contracts.contracts._json import JSONFormatContract
    from llm_contracts.conversation import ConversationStateManager

    assert llm_contracts.JSONFormatContract is JSONFormatContract
    assert llm_contracts.contracts.JSONFormatContract is JSONFormatContract
    assert llm_contracts.ConversationStateManager is ConversationStateManager
    assert "JSONFormatContract" in dir(llm_contracts)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchContract'"):
        llm_contracts.NoSuchContract  # noqa: B018 - the attribute access is the test
