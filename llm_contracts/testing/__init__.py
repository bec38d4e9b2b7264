"""Test tools: a fake model, contract test cases, record/replay of model traffic, pass rates.

The pytest plugin (``llm_contracts.testing.pytest_plugin``) is registered through the
``pytest11`` entry point and builds its fixtures from these.
"""

from ._adversarial import INJECTION_TECHNIQUES, PII_TECHNIQUES, AdversarialInputs
from ._cassette import RECORD_MODES, Cassette, CassetteMissError, intercept
from ._fake import FakeLLM, FakeReply, http_module
from ._framework import CaseResult, ContractTestCase, ContractTestFramework, ContractTestReport, load_cases
from ._passrate import PassRate, VerdictTally, wilson_interval

__all__ = [
    "AdversarialInputs",
    "CaseResult",
    "Cassette",
    "CassetteMissError",
    "ContractTestCase",
    "ContractTestFramework",
    "ContractTestReport",
    "FakeLLM",
    "FakeReply",
    "INJECTION_TECHNIQUES",
    "PII_TECHNIQUES",
    "PassRate",
    "RECORD_MODES",
    "VerdictTally",
    "http_module",
    "intercept",
    "load_cases",
    "wilson_interval",
]
