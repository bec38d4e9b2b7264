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


def test_a_lazily_exported_name_is_the_defining_modules_object():
    from llm_contracts.contracts._json import JSONFormatContract
    from llm_contracts.conversation import ConversationStateManager

    assert llm_contracts.JSONFormatContract is JSONFormatContract
    assert llm_contracts.contracts.JSONFormatContract is JSONFormatContract
    assert llm_contracts.ConversationStateManager is ConversationStateManager
    assert "JSONFormatContract" in dir(llm_contracts)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchContract'"):
        llm_contracts.NoSuchContract  # noqa: B018 - the attribute access is the test
