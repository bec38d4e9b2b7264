"""Contract patterns on the server: linear-time or bounded, and a clear field error otherwise."""

from __future__ import annotations

import pytest
from django.test import Client

from contracts_app import services
from contracts_app.models import ContractVersion
from dashboard.lib.errors import ServiceError

from .test_contracts import HTMX, lines_with_errors

# Python's re needs about 2**n steps for (a+)+$ against n a's and one other character.
CATASTROPHIC_OUTPUT = "a" * 31 + "!"


def verdicts(response) -> dict[str, services.TryVerdict]:  # type: ignore[no-untyped-def]
    return {v.check: v for v in response.context["result"].verdicts}


class TestTryIt:
    def test_a_catastrophic_pattern_gets_its_verdict(self, owner: Client) -> None:
        source = (
            "contract Reply {\n  ensure matches(output, /^(a+)+$/)\n"
            "  ensure not matches(output, /(a+)+!/)\n}\n"
        )

        response = owner.post(
            "/p/alpha/contracts/try/",
            {"source": source, "input": "hi", "output": CATASTROPHIC_OUTPUT},
            headers=HTMX,
        )

        assert response.status_code == 200
        checks = verdicts(response)
        assert not checks["Reply.ensure[1]"].is_valid and not checks["Reply.ensure[1]"].error
        assert "does not match" in checks["Reply.ensure[1]"].message
        assert (
            not checks["Reply.ensure[2]"].is_valid and "forbidden text" in checks["Reply.ensure[2]"].message
        )

    def test_a_schema_pattern_re2_cannot_run_is_a_diagnostic_not_a_run(self, owner: Client) -> None:
        source = (
            'contract Reply {\n  ensure json(output) conforms {"type": "string", '
            '"pattern": "^(a|aa)+\\\\1$"}\n}\n'
        )

        response = owner.post(
            "/p/alpha/contracts/try/",
            {"source": source, "input": "", "output": '"' + "a" * 5000 + '!"'},
            headers=HTMX,
        )

        assert response.status_code == 200
        assert response.context["result"].verdicts == []
        (diagnostic,) = response.context["result"].diagnostics
        assert "unsupported regular expression in the JSON Schema at $.pattern" in diagnostic.message
        assert (diagnostic.line, diagnostic.column) == (2, 32)

    def test_the_call_text_as_a_pattern_is_a_diagnostic_not_a_run(self, owner: Client) -> None:
        source = "contract Reply {\n  ensure not matches(output, input)\n}\n"

        response = owner.post(
            "/p/alpha/contracts/try/",
            {"source": source, "input": "(a+)+$", "output": CATASTROPHIC_OUTPUT},
            headers=HTMX,
        )

        assert response.status_code == 200
        assert response.context["result"].verdicts == []
        assert "never compiled as a regular expression" in response.content.decode()


class TestValidateAndSave:
    @pytest.mark.parametrize(
        ("pattern", "words"),
        [
            (r"(\w+)\1", "unsupported regular expression"),
            (r"(?=a)a", "unsupported regular expression"),
            (r"a{5000}", "regular expression too expensive"),
        ],
    )
    def test_the_editor_places_the_pattern_error_under_its_line(
        self, owner: Client, pattern: str, words: str
    ) -> None:
        source = (
            "contract Reply {\n  ensure len(output) < 90\n  ensure matches(output, /" + pattern + "/)\n}\n"
        )

        response = owner.post("/p/alpha/contracts/validate/", {"source": source}, headers=HTMX)

        errors = lines_with_errors(response.content.decode())
        assert list(errors) == [3] and words in errors[3][0]

    def test_saving_an_unsupported_pattern_is_refused_and_stores_nothing(self, owner: Client) -> None:
        source = "contract Reply {\n  ensure matches(output, /(a)\\1/)\n}\n"

        response = owner.post("/p/alpha/contracts/new/", {"source": source})

        assert response.status_code == 422
        assert "unsupported regular expression" in lines_with_errors(response.content.decode())[2][0]
        assert not ContractVersion.objects.exists()

    def test_the_service_refuses_it_as_a_field_error(self, cast) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ServiceError) as caught:
            services.contract_version_create(
                project=cast.project_a,
                name="Reply",
                source="contract Reply {\n  ensure matches(output, /a{5000}/)\n}\n",
            )

        assert caught.value.field == "source" and "too expensive" in caught.value.reason
