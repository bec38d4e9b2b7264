"""Checked by mypy (``make typecheck``), never run: the clients' keywords are typed.

A line marked ``# type: ignore[...]`` must be a type error: with ``warn_unused_ignores``
an ignore that is not needed fails the check.
"""

from __future__ import annotations

from typing import assert_type

import openai

from llm_contracts import (
    AsyncContractAzureOpenAI,
    AsyncContractOpenAI,
    ContractAzureOpenAI,
    ContractOpenAI,
    ContractReport,
    JSONFormatContract,
)


def _listener(report: ContractReport) -> None:
    print(report.outcome)


def sync_client() -> None:
    client = ContractOpenAI(
        api_key="k",
        max_retries=1,
        timeout=3.0,
        output_contracts=[JSONFormatContract()],
        contract_retries=2,
        conflicts="strict",
        on_report=_listener,
        upload_traces="never",
    )
    assert_type(client.copy(contract_retries=1), ContractOpenAI)
    assert_type(client.with_options(timeout=2.0, client=openai.OpenAI(api_key="k")), ContractOpenAI)

    ContractOpenAI(api_keys="k")  # type: ignore[call-arg]
    ContractOpenAI(contract_retry=2)  # type: ignore[call-arg]
    ContractOpenAI(contract_retries="2")  # type: ignore[arg-type]
    ContractOpenAI(conflicts="loose")  # type: ignore[arg-type]
    ContractOpenAI(output_contracts=["not a contract"])  # type: ignore[list-item]
    ContractOpenAI(client=openai.AsyncOpenAI(api_key="k"))  # type: ignore[arg-type]
    client.copy(contract_retry=1)  # type: ignore[call-arg]
    client.with_options(timeouts=2.0)  # type: ignore[call-arg]


def async_client() -> None:
    client = AsyncContractOpenAI(api_key="k", output_contracts=[JSONFormatContract()], contract_retries=1)
    assert_type(client.with_options(max_retries=0), AsyncContractOpenAI)

    AsyncContractOpenAI(api_keys="k")  # type: ignore[call-arg]
    AsyncContractOpenAI(http_client=openai.DefaultHttpxClient())  # type: ignore[arg-type]


def azure_clients() -> None:
    client = ContractAzureOpenAI(
        azure_endpoint="https://example.openai.azure.com",
        api_version="2024-10-21",
        api_key="k",
        output_contracts=[JSONFormatContract()],
    )
    assert_type(client.copy(api_version="2025-01-01", contract_retries=1), ContractAzureOpenAI)
    AsyncContractAzureOpenAI(azure_endpoint="https://example.openai.azure.com", api_version="2024-10-21")

    ContractAzureOpenAI(azure_endpont="https://example.openai.azure.com")  # type: ignore[call-arg]
    AsyncContractAzureOpenAI(azure_deployments="d")  # type: ignore[call-arg]
