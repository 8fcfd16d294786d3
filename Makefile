# Two commands set up a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and (re)install only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv demo lint test bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,zbar,postgres,redis]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tickethub demo --out demo-output $(if $(CAMERA),--camera $(CAMERA))

# Style drift fails the build: formatting and lint are checked before the tests run.
lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Every benchmark, each a module run from the repo root (docs/performance.md);
# bench_gate runs both gate sections (decoding, then latency: bench/gate_latency.py).
# PostgreSQL rows need TICKETHUB_TEST_POSTGRES_URL. Takes many minutes (the sell-outs most):
# run it on an otherwise idle machine.
bench: $(STAMP)
	$(PY) -m bench.bench_signing
	$(PY) -m bench.bench_gate
	$(PY) -m bench.bench_sync
	$(PY) -m bench.bench_peers
	$(PY) -m bench.bench_sellout --workers 1,2
	$(PY) -m bench.bench_hub_web
	$(PY) -m bench.bench_seatmap_phone
	$(PY) -m bench.bench_dashboard
	$(PY) -m bench.bench_onsale
	$(PY) -m bench.bench_viewers
	$(PY) -m bench.bench_spike
	$(PY) -m bench.bench_waiting_room

clean:
	rm -rf $(VENV) demo-output .pytest_cache .hypothesis
