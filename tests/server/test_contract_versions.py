"""Contract versions: only LLMCL that compiles is saved, numbered in order, and served to the SDK."""

from __future__ import annotations

import pytest
from django.test import Client

from contracts_app import services
from contracts_app.models import ContractVersion

from .conftest import Cast

pytest.importorskip("llm_contracts.llmcl")

SOURCE = "contract SupportReply {\n  ensure json(output)\n}\n"


class TestContractVersions:
    def test_it_saves_compiled_versions_numbered_in_order(self, cast: Cast) -> None:
        first = services.contract_version_create(
            project=cast.project_a, name="SupportReply", source=SOURCE, author=cast.owner
        )
        second = services.contract_version_create(
            project=cast.project_a,
            name="SupportReply",
            source=SOURCE.replace("json(output)", "len(output) <= 400"),
        )
        assert (first.version, second.version) == (1, 2)
        assert first.spec["contracts"][0]["name"] == "SupportReply"
        assert first.author == cast.owner

    def test_it_refuses_source_that_does_not_compile_and_saves_nothing(self, cast: Cast) -> None:
        with pytest.raises(services.ContractCompileError) as caught:
            services.contract_version_create(
                project=cast.project_a,
                name="SupportReply",
                source="contract SupportReply {\n  ensure lenn(output) <= 3\n}\n",
            )
        assert caught.value.field == "source" and "lenn" in caught.value.reason
        assert ContractVersion.objects.count() == 0

    def test_it_refuses_source_that_defines_another_contract(self, cast: Cast) -> None:
        with pytest.raises(services.ContractCompileError, match="no contract named 'Other'"):
            services.contract_version_create(project=cast.project_a, name="Other", source=SOURCE)

    def test_the_sdk_pulls_the_compiled_spec_once_activated(self, cast: Cast, client: Client) -> None:
        version = services.contract_version_create(project=cast.project_a, name="SupportReply", source=SOURCE)
        services.contract_version_activate(contract_version=version)
        body = client.get("/api/v1/contracts", headers={"X-API-Key": cast.key_a}).json()
        (contract,) = body["contracts"]
        assert (contract["name"], contract["version"], contract["source"]) == ("SupportReply", 1, SOURCE)
        assert contract["spec"]["spec_version"] == "1"
