"""Profiles of saved contract versions: what each check costs, measured by a bounded job.

The contract page asks for a profile with pasted cases (the SDK's JSON-lines case format,
or plain answers); a Celery task runs the SDK's :class:`ContractProfiler` on the version's
compiled spec and stores the measurements. The work is bounded three ways: at most
``PROFILE_MAX_CASES`` cases of at most ``PROFILE_MAX_CHARS`` characters, at most
``PROFILE_MAX_RUNS`` runs each, and the task's time limit; one version has at most one
profile waiting or running at a time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contracts_app.models import ContractVersion, VersionProfile

log = logging.getLogger(__name__)

PROFILE_MAX_CASES = 50
PROFILE_MAX_CHARS = 20_000
PROFILE_MAX_RUNS = 20
# The task's limits (seconds): soft, then the worker kills the child.
PROFILE_SOFT_LIMIT_S = 60
PROFILE_HARD_LIMIT_S = 75
# A profile still waiting after this long has been lost (its worker died): a new one may start.
PROFILE_STALE_AFTER = timedelta(seconds=PROFILE_HARD_LIMIT_S * 4)


@dataclass(frozen=True)
class ProfileRefused(Exception):
    """The request cannot be profiled; ``reason`` says what, and where."""

    reason: str
    status: int = 422

    def __str__(self) -> str:
        return self.reason


def parse_cases(text: str) -> list[Any]:
    """Return the cases of the pasted text, one per non-blank line.

    A line that starts with ``{`` or ``"`` is JSON (a string, or an object with ``input``,
    ``output``, ``context``, as in ``llm-contracts profile --inputs``); any other line is
    an answer as it stands. Raise :class:`ProfileRefused` naming the first bad line.
    """
    from llm_contracts import LLMContractsError
    from llm_contracts.debugging._cases import as_case

    cases: list[Any] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if len(cases) == PROFILE_MAX_CASES:
            raise ProfileRefused(f"line {number}: at most {PROFILE_MAX_CASES} cases per profile")
        if len(stripped) > PROFILE_MAX_CHARS:
            raise ProfileRefused(f"line {number}: a case may have at most {PROFILE_MAX_CHARS} characters")
        value: Any = stripped
        if stripped[0] in '{"':
            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise ProfileRefused(f"line {number}: not JSON: {exc}") from None
        try:
            as_case(value, where=f"line {number}")
        except LLMContractsError as exc:
            raise ProfileRefused(str(exc)) from None
        cases.append(value)
    if not cases:
        raise ProfileRefused("no cases: paste one answer, or one JSON case, per line")
    return cases


def profile_request(
    *, version: ContractVersion, cases_text: str, runs: int, requested_by: AbstractBaseUser | None = None
) -> VersionProfile:
    """Queue a profile of ``version`` on the pasted cases; the task runs once the row is committed."""
    if not 1 <= runs <= PROFILE_MAX_RUNS:
        raise ProfileRefused(f"runs: a whole number from 1 to {PROFILE_MAX_RUNS}")
    cases = parse_cases(cases_text)
    with transaction.atomic():
        # One waiting or running profile per version: a second request would only queue work.
        ContractVersion.objects.select_for_update().filter(pk=version.pk).first()
        fresh = timezone.now() - PROFILE_STALE_AFTER
        waiting = version.profiles.filter(
            status__in=(VersionProfile.Status.QUEUED, VersionProfile.Status.RUNNING), created_at__gte=fresh
        )
        if waiting.exists():
            raise ProfileRefused(
                f"v{version.version} is being profiled; wait for that profile to finish", 409
            )
        profile = VersionProfile.objects.create(
            version=version, requested_by=requested_by, runs=runs, case_count=len(cases), cases=cases
        )
        transaction.on_commit(lambda: _enqueue(profile.pk))
    return profile


def _enqueue(profile_id: int) -> None:
    from contracts_app.tasks import contract_profile

    contract_profile.delay(profile_id)


def profile_run(*, profile_id: int) -> VersionProfile | None:
    """Run a queued profile and store its measurements (or why it failed); return it."""
    with transaction.atomic():
        profile = (
            VersionProfile.objects.select_for_update()
            .select_related("version__contract")
            .filter(pk=profile_id, status=VersionProfile.Status.QUEUED)
            .first()
        )
        if profile is None:  # already run, or gone with its contract
            return None
        profile.status = VersionProfile.Status.RUNNING
        profile.started_at = timezone.now()
        profile.save(update_fields=["status", "started_at"])
    try:
        profile.result = _measure(profile)
        profile.status = VersionProfile.Status.DONE
    except Exception as exc:  # the version's own fault, or the time limit: recorded, never raised
        profile.status = VersionProfile.Status.FAILED
        profile.error = _failure(exc)[:500]
    profile.finished_at = timezone.now()
    profile.cases = []  # the texts are not kept once measured
    profile.save(update_fields=["status", "result", "error", "finished_at", "cases"])
    return profile


def profile_give_up(*, profile_id: int, reason: str) -> None:
    """Mark a profile the worker could not finish as failed."""
    VersionProfile.objects.filter(
        pk=profile_id, status__in=(VersionProfile.Status.QUEUED, VersionProfile.Status.RUNNING)
    ).update(status=VersionProfile.Status.FAILED, error=reason[:500], finished_at=timezone.now(), cases=[])


def _failure(exc: BaseException) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    from llm_contracts import LLMContractsError

    if isinstance(exc, SoftTimeLimitExceeded):
        return f"stopped after {PROFILE_SOFT_LIMIT_S} s: profile fewer or shorter cases, or fewer runs"
    if isinstance(exc, LLMContractsError):
        return str(exc)
    log.exception("profiling failed")
    return f"the profile could not run ({type(exc).__name__})"


def _measure(profile: VersionProfile) -> dict[str, Any]:
    from llm_contracts.debugging import ContractProfiler
    from llm_contracts.llmcl import LLMCLError, load_spec

    version = profile.version
    name = version.contract.name
    try:
        contracts = load_spec(version.spec, contract=name)
    except LLMCLError:  # a file whose contract has another name: the one the SDK would load
        contracts = load_spec(version.spec)
    profiler = ContractProfiler(runs=profile.runs, memory=True)
    report = profiler.profile_contracts(contracts, profile.cases, name=contracts.name)
    return report.to_dict()
