"""The pytest plugin, run for real with pytester: fixtures, case files, pass rates, registration."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules a run imported; scipy's compiled parts cannot
# be imported twice in one process, so it is imported here, before any run.
pytest.importorskip("scipy.stats")

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = "llm_contracts.testing.pytest_plugin"

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""


def plugin_args() -> list[str]:
    """Load the plugin by name unless its entry point is installed (then pytest loads it itself)."""
    installed = any(ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if installed else ["-p", PLUGIN]


# The project's own Django set-up must not run again inside the outer test session.
ISOLATION = ("-p", "no:cacheprovider", "-p", "no:django")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    return pytester.runpytest(*plugin_args(), *ISOLATION, *args)


def test_the_plugin_is_registered_through_the_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

    assert project["project"]["entry-points"]["pytest11"] == {"llm_contracts": PLUGIN}


def test_a_test_that_uses_nothing_of_the_plugin_runs_as_without_it(pytester: pytest.Pytester):
    pytester.makepyfile("""
        def test_plain():
            assert 1 + 1 == 2
    """)

    with_plugin = run(pytester, "-rA")
    without = pytester.runpytest(*ISOLATION, "-p", "no:llm_contracts", "-rA")

    with_plugin.assert_outcomes(passed=1)
    without.assert_outcomes(passed=1)
    if not plugin_args():  # installed: pytest loaded it by its entry point, and -p no: turned it off
        assert "llm-contracts" in with_plugin.stdout.str() and "llm-contracts" not in without.stdout.str()
    # Nothing but pytest's list of installed plugins mentions it.
    assert [line for line in with_plugin.outlines if "llm" in line and not line.startswith("plugins:")] == []


def test_the_fake_model_scripts_answers_streams_tool_calls_and_errors(pytester: pytest.Pytester):
    pytester.makepyfile("""
        import json

        import openai
        import pytest

        from llm_contracts import ContractViolationError, get_report
        from llm_contracts.testing import FakeReply

        MESSAGES = [{"role": "user", "content": "hi"}]

        @pytest.mark.llm_client(contracts='contract C { ensure not contains(output, "forbidden") }')
        def test_contracts_from_llmcl_hold_on_the_fake(llm_client, llm_fake):
            llm_fake.reply("a forbidden word")
            with pytest.raises(ContractViolationError):
                llm_client.chat.completions.create(model="m", messages=MESSAGES)
            reply = llm_client.chat.completions.create(model="m", messages=MESSAGES)
            assert reply.choices[0].message.content == "OK"
            assert get_report(reply).outcome == "passed"

        def test_streaming(llm_client, llm_fake):
            llm_fake.reply(FakeReply("one two three", chunks=["one ", "two ", "three"]))
            stream = llm_client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
            assert pieces == ["one ", "two ", "three"]

        def test_tool_calls(llm_client, llm_fake):
            llm_fake.reply(FakeReply(tool_calls=[("lookup", {"order": 42})]))
            reply = llm_client.chat.completions.create(model="m", messages=MESSAGES)
            call = reply.choices[0].message.tool_calls[0]
            assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"order": 42})

        def test_errors(llm_client, llm_fake):
            llm_fake.reply(FakeReply.rate_limited(retry_after=3), FakeReply.http_error(500),
                           FakeReply.timeout(), FakeReply.connection_error())
            with pytest.raises(openai.RateLimitError) as limited:
                llm_client.chat.completions.create(model="m", messages=MESSAGES)
            assert limited.value.response.headers["retry-after"] == "3"
            with pytest.raises(openai.InternalServerError):
                llm_client.chat.completions.create(model="m", messages=MESSAGES)
            with pytest.raises(openai.APITimeoutError):
                llm_client.chat.completions.create(model="m", messages=MESSAGES)
            with pytest.raises(openai.APIConnectionError):
                llm_client.chat.completions.create(model="m", messages=MESSAGES)

        @pytest.mark.llm_client(output_contracts=[], contract_retries=1)
        async def test_async_client(llm_async_client, llm_fake):
            llm_fake.reply("async answer")
            reply = await llm_async_client.chat.completions.create(model="m", messages=MESSAGES)
            assert reply.choices[0].message.content == "async answer"
    """)

    result = run(pytester)

    result.assert_outcomes(passed=5)


def test_contract_cases_parametrise_a_test_from_a_yaml_file(pytester: pytest.Pytester):
    pytester.makefile(
        ".yaml",
        cases="""
        - name: clean
          output: All good.
          expect: pass
        - name: disclaimer
          output: As an AI, I cannot help.
          expect: fail
        - name: mislabelled
          output: As an AI, I must say.
          expect: pass
          description: a case whose expectation is wrong
    """,
    )
    pytester.makepyfile("""
        import pytest

        SOURCE = 'contract C { ensure not contains(output, "As an AI") }'

        @pytest.mark.contract_cases("cases.yaml")
        def test_cases(contract_case):
            contract_case.check(SOURCE)
    """)

    result = run(pytester, "-v")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_cases?clean? PASSED*",
            "*test_cases?disclaimer? PASSED*",
            "*test_cases?mislabelled? FAILED*",
            "*AssertionError: case 'mislabelled': expected pass, got fail: *",
        ]
    )


def test_a_broken_cases_file_is_a_collection_error_naming_the_case(pytester: pytest.Pytester):
    pytester.makefile(
        ".yaml",
        cases="""
        - name: fine
          output: x
        - name: broken
          output: y
          expect: sometimes
    """,
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.contract_cases("cases.yaml")
        def test_cases(contract_case):
            pass
    """)

    result = run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cases.yaml: case 2 ('broken'): expect: Input should be 'pass' or 'fail'*"])
    assert "Traceback" not in result.stdout.str()


def test_the_adversarial_inputs_fixture_gives_cases_a_contract_set_must_reject(pytester: pytest.Pytester):
    pytester.makepyfile("""
        from llm_contracts import PromptInjectionContract
        from llm_contracts.testing import ContractTestFramework

        def test_injections_are_caught(adversarial_inputs):
            framework = ContractTestFramework(adversarial_inputs.injection())
            report = framework.run_tests([PromptInjectionContract()])
            assert report.all_passed, report.table()

        def test_a_set_without_pii_checks_misses_pii(adversarial_inputs):
            report = ContractTestFramework(adversarial_inputs.pii(kinds=["email"])).run_tests(
                [PromptInjectionContract()])
            assert report.all_passed, report.table()
    """)

    result = run(pytester)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*case 'pii/email/plain': expected fail, got pass: no contract objected*"])


REPEATED = """
    import pytest

    from llm_contracts import ContractViolationError, FunctionContract

    NO_SORRY = FunctionContract(lambda text: "sorry" not in text, name="no_sorry")

    @pytest.fixture
    def scripted(llm_fake):
        llm_fake.reply(*(["sorry"] * {bad}), *(["fine"] * (20 - {bad})))
        return llm_fake

    @pytest.mark.llm_client(output_contracts=[NO_SORRY])
    @pytest.mark.llm_repeat(20, pass_rate=0.9)
    def test_answers(llm_client, scripted):
        llm_client.chat.completions.create(model="m", messages=[{{"role": "user", "content": "hi"}}])
"""


def test_a_repeated_test_fails_below_its_pass_rate_with_a_confidence_interval(pytester: pytest.Pytester):
    pytester.makepyfile(REPEATED.format(bad=3))

    result = run(pytester)

    result.assert_outcomes(failed=1)
    # 17 of 20: the Wilson 95% interval is 0.64-0.95.
    result.stdout.fnmatch_lines(
        [
            "*pass rate 0.85 (17 of 20 runs) is below the required 0.90; "
            "95% confidence interval 0.64-0.95 (Wilson)*",
            "*failed runs: 1, 2, 3*",
            "*run 1: ContractViolationError: *",
        ]
    )


def test_a_repeated_test_at_its_pass_rate_passes_and_the_summary_tables_rates_per_contract(
    pytester: pytest.Pytester,
):
    pytester.makepyfile(REPEATED.format(bad=2))

    result = run(pytester)

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= llm-contracts pass rates (Wilson intervals) =*",
            "test*runs*passed*rate*interval*required",
            "*test_answers*20*18*0.90*0.70-0.97*>= 0.90 ok",
            "verdicts per contract over those runs*",
            "contract*verdicts*passed*rate*interval",
            "no_sorry*20*18*0.90*0.70-0.97",
        ]
    )


def test_bad_llm_repeat_arguments_are_errors_naming_the_test(pytester: pytest.Pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.llm_repeat(0)
        def test_never():
            pass
    """)

    result = run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.llm_repeat: runs must be an int >= 1; got 0*"])
    assert "Traceback" not in result.stdout.str()


def test_an_async_test_repeats_on_its_own_event_loop(pytester: pytest.Pytester):
    pytester.makepyfile("""
        import pytest

        RUNS = []

        @pytest.mark.llm_repeat(5, pass_rate=0.8)
        async def test_answers(llm_async_client, llm_fake):
            llm_fake.reply("fine")
            reply = await llm_async_client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}])
            RUNS.append(reply.choices[0].message.content)
            assert len(RUNS) != 3

        def test_every_run_ran():
            assert RUNS == ["fine"] * 5
    """)

    result = run(pytester)

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_answers*5*4*0.80*>= 0.80 ok"])
