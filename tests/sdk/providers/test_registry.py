"""The provider registry: built-ins, code registration and plugins found by entry point."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import llm_contracts
from llm_contracts import ContractConfigError, RegexContract, ValidationContext
from llm_contracts.providers import (
    ProviderSpec,
    broken_plugins,
    discover,
    get_provider,
    provider_names,
    register,
)
from llm_contracts.providers._registry import _unregister

ROOT = Path(llm_contracts.__file__).resolve().parent.parent

ENTRY_POINTS = """\
[llm_contracts.providers]
echo = tests.sdk.providers.example_plugin:spec
broken = tests.sdk.providers.example_plugin:broken
missing = tests.sdk.providers.no_such_module:spec
"""


def install_plugin(site: Path) -> None:
    """Write the metadata pip would write for a package declaring the example's entry points."""
    info = site / "llmc_example_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: llmc-example-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    install_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("echo", "broken", "missing"):
        _unregister(name)
    monkeypatch.undo()
    discover(force=True)


def test_the_built_in_providers_are_registered():
    assert {"anthropic", "cohere", "openai"} <= set(provider_names())
    assert get_provider("anthropic").routes["/v1/messages"].requests.provider == "anthropic"
    assert get_provider("openai").route_for("post", "/chat/completions") is not None
    assert get_provider("cohere").route_for("post", "v2/chat") is not None


def test_a_plugin_is_found_from_its_entry_point_and_judged_like_any_provider(plugin_site):
    discover(force=True)

    spec = get_provider("echo")
    route = spec.route_for("post", "/v1/echo")
    request = route.requests.read({"model": "echo-1", "prompt": "Say hi."})
    answer = route.responses.response({"echo": "my password is hunter2"}, None)
    verdict = RegexContract(r"hunter2", must_match=False).validate(answer, ValidationContext(request=request))

    assert (request.provider, request.user_text) == ("echo", "Say hi.")
    assert not verdict.is_valid
    assert request.edited(texts={0: "Say hello."}).body["prompt"] == "Say hello."
    assert spec.client("EchoClient").__name__ == "EchoClient"


def test_a_broken_plugin_is_logged_and_left_out_while_the_others_load(plugin_site, caplog):
    with caplog.at_level(logging.WARNING, logger="llm_contracts"):
        discover(force=True)

    broken = broken_plugins()
    assert "cannot start" in broken["broken"]
    assert "No module named" in broken["missing"]
    assert "echo" in provider_names()
    assert "left out the provider plugin 'broken'" in caplog.text
    with pytest.raises(ContractConfigError, match="its plugin failed to load"):
        get_provider("broken")


def test_importing_the_sdk_with_a_broken_plugin_installed_works(plugin_site):
    code = (
        "import llm_contracts, llm_contracts.providers as p; "
        "print(sorted(p.provider_names())); print(sorted(p.broken_plugins()))"
    )
    env_path = f"{plugin_site}:{ROOT}"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )

    assert out.stdout.splitlines() == ["['anthropic', 'cohere', 'echo', 'openai']", "['broken', 'missing']"]


def test_registering_from_code_refuses_a_second_spec_of_the_same_name():
    spec = ProviderSpec(name="acme")
    register(spec)
    try:
        with pytest.raises(ContractConfigError, match="registered already"):
            register(ProviderSpec(name="acme"))
        assert register(ProviderSpec(name="acme"), replace=True).name == "acme"
    finally:
        _unregister("acme")


def test_a_spec_with_a_bad_route_is_refused_naming_it():
    with pytest.raises(ContractConfigError, match=r"routes\['/v1/x'\] must be a Route"):
        ProviderSpec(name="acme", routes={"/v1/x": "not a route"})  # type: ignore[dict-item]


def test_an_unknown_provider_names_the_registered_ones():
    with pytest.raises(ContractConfigError, match="no provider named 'nope'; registered: anthropic"):
        get_provider("nope")
