# Two commands set everything up: `make run` runs the product, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

.PHONY: run demo test openai2-env test-openai2 test-openai-suite bench lint typecheck clean

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,server,pydantic-ai,openai-agents]'
	# guardrails-ai and its hub validators pin openai < 3; the validators the adapter runs work
	# on openai 3.x (their dependencies are in the dev extra), so they go in without their pins.
	$(PY) -m pip install -q --no-deps 'guardrails-ai>=0.11' 'guardrails-ai-regex-match>=0.1' \
		'guardrails-ai-valid-length>=0.1' 'guardrails-ai-valid-choices>=0.1'
	# instructor pins jiter<0.15 while openai 3.x needs jiter>=0.16; both work with the
	# newer jiter, so instructor (a test-only dependency) goes in without its pins.
	$(PY) -m pip install -q --no-deps 'instructor>=1.17'
	@rm -f $(VENV)/.installed-*
	@touch $@

# The control plane with demo data and live demo traffic (see dashboard/devserver.py),
# in development mode: the settings' defaults are the production ones.
run: $(STAMP)
	DEBUG=1 $(PY) -m dashboard.devserver

# The SDK alone against a local fake model.
demo: $(STAMP)
	$(PY) -m llm_contracts.demo

# One pytest process per core: each has its own test database and Redis database
# (tests/settings.py).
test: $(STAMP)
	$(PY) -m pytest -n auto

# The other supported openai line (2.x, which talks through httpx instead of httpx2).
OPENAI2_STAMP := .venv-openai2/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

$(OPENAI2_STAMP):
	@test -x .venv-openai2/bin/python || $(PYTHON) -m venv .venv-openai2
	.venv-openai2/bin/python -m pip install -q --upgrade pip
	.venv-openai2/bin/python -m pip install -q -e '.[dev,server]' 'openai>=2.30,<3' 'instructor>=1.17'
	@rm -f .venv-openai2/.installed-*
	@touch $@

openai2-env: $(OPENAI2_STAMP)

test-openai2: $(OPENAI2_STAMP)
	.venv-openai2/bin/python -m pytest -n auto tests/sdk

# openai's own test suite (its sdist, cached in .cache/) against openai's clients and the
# drop-in ones; lists every test that passes on the first and fails on the second.
test-openai-suite: $(STAMP)
	@test -x .venv-openai-suite/bin/python || $(PYTHON) -m venv .venv-openai-suite
	.venv-openai-suite/bin/python -m pip install -q -e . "openai==$$($(PY) -c 'import openai; print(openai.__version__)')" \
		pytest pytest-asyncio inline-snapshot griffe respx trio dirty-equals numpy rich websockets
	.venv-openai-suite/bin/python tests/compat/run_openai_suite.py

bench: $(STAMP)
	$(PY) bench/run.py

LINT_DIRS := llm_contracts tests bench dashboard accounts telemetry contracts_app experiments

lint: $(STAMP)
	$(PY) -m ruff check $(LINT_DIRS) --extend-exclude "*/migrations/*"
	$(PY) -m ruff format --check $(LINT_DIRS) --exclude "*/migrations/*"

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .venv-openai2 .pytest_cache .mypy_cache .ruff_cache
