"""The experiments API: the SDK's pull of running experiments, and changes for deployment pipelines."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from accounts.api import MissingScope, ProjectKey, key_scopes
from accounts.models import ApiKey
from contracts_app.schemas import ErrorOut, SdkExperimentsOut
from contracts_app.selectors import etag_of
from experiments import selectors, services
from experiments.models import ARMS, Experiment
from experiments.schemas import CoverageIn, ExperimentIn, ExperimentOut, ShipIn

# Changes need the write scope; the SDK's pull needs read.
router = Router(auth=ProjectKey("write"), tags=["experiments"])

_ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}
WRITE_SCOPE = "write"


def _key(request: HttpRequest) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    return key


def _writer(request: HttpRequest) -> tuple[ApiKey, services.Actor]:
    """Return the request's key and actor, or refuse a key without the write scope."""
    key = _key(request)
    if WRITE_SCOPE not in key_scopes(key):
        raise MissingScope(f"this API key lacks the {WRITE_SCOPE!r} scope", field="X-API-Key")
    return key, services.Actor.of_key(key)


def _out(experiment: Experiment) -> dict[str, Any]:
    arms = selectors.arm_versions(experiment=experiment)
    return {
        "key": experiment.key,
        "description": experiment.description,
        "status": experiment.status,
        "coverage": experiment.coverage,
        "weights": list(experiment.weights),
        "sticky": experiment.sticky,
        "seed": experiment.hash_seed,
        "current_step": experiment.current_step,
        **{arm: [{"name": v.contract.name, "version": v.version} for v in arms[arm]] for arm in ARMS},
    }


@router.get("/experiments", auth=ProjectKey("read"), response={200: SdkExperimentsOut, 304: None, **_ERRORS})
def get_experiments(request: HttpRequest, response: HttpResponse) -> Any:
    """Return the running experiments and their allocation; 304 when the ETag still matches."""
    data = {"experiments": selectors.experiments_for_sdk(project=_key(request).project)}
    etag = etag_of(data)
    wanted = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return HttpResponse(status=304, headers={"ETag": etag})
    response["ETag"] = etag
    return Status(200, data)


@router.post("/experiments", response={201: ExperimentOut, **_ERRORS})
def create_experiment(request: HttpRequest, body: ExperimentIn) -> Status[dict[str, Any]]:
    """Create a draft experiment (needs a key with the write scope)."""
    key, actor = _writer(request)
    fields = body.dict()
    experiment = services.experiment_create(project=key.project, key=fields.pop("key"), actor=actor, **fields)
    return Status(201, _out(experiment))


def _change(request: HttpRequest, experiment_key: str, service: Any, **kwargs: Any) -> Status[dict[str, Any]]:
    key, actor = _writer(request)
    experiment = services.experiment_for_project(project=key.project, key=experiment_key)
    return Status(200, _out(service(experiment=experiment, actor=actor, **kwargs)))


@router.post("/experiments/{experiment_key}/start", response={200: ExperimentOut, **_ERRORS})
def start_experiment(request: HttpRequest, experiment_key: str) -> Status[dict[str, Any]]:
    """Start a draft, or resume a paused experiment."""
    return _change(request, experiment_key, services.experiment_start)


@router.post("/experiments/{experiment_key}/pause", response={200: ExperimentOut, **_ERRORS})
def pause_experiment(request: HttpRequest, experiment_key: str) -> Status[dict[str, Any]]:
    """Pause a running experiment."""
    return _change(request, experiment_key, services.experiment_pause)


@router.post("/experiments/{experiment_key}/ramp", response={200: ExperimentOut, **_ERRORS})
def ramp_experiment(request: HttpRequest, experiment_key: str) -> Status[dict[str, Any]]:
    """Move a running experiment to its next ramp step now."""
    return _change(request, experiment_key, services.experiment_ramp)


@router.post("/experiments/{experiment_key}/rollback", response={200: ExperimentOut, **_ERRORS})
def rollback_experiment(request: HttpRequest, experiment_key: str) -> Status[dict[str, Any]]:
    """Roll an experiment back: everybody gets control, for good."""
    return _change(request, experiment_key, services.experiment_rollback)


@router.post("/experiments/{experiment_key}/coverage", response={200: ExperimentOut, **_ERRORS})
def set_coverage(request: HttpRequest, experiment_key: str, body: CoverageIn) -> Status[dict[str, Any]]:
    """Set the share of users in the experiment."""
    return _change(request, experiment_key, services.experiment_set_coverage, coverage=body.coverage)


@router.post("/experiments/{experiment_key}/ship", response={200: ExperimentOut, **_ERRORS})
def ship_experiment(request: HttpRequest, experiment_key: str, body: ShipIn) -> Status[dict[str, Any]]:
    """Finish an experiment: the chosen arm's contract versions become the active ones."""
    return _change(request, experiment_key, services.experiment_ship, arm=body.arm)
