# The README's contract: `make demo` and `make test` set everything up from a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

.PHONY: install demo test bench bench-drafts eval serve load clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU torch first: a later unpinned dependency must not pull the CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: install
	$(BIN)/feedback demo $(DEMO_ARGS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m eval.bench_embedder
	$(BIN)/python -m eval.bench_ingest
	-$(BIN)/python -m eval.bench_themes --dataset both
	-$(BIN)/python -m eval.bench_match

# Draft latency over HTTP with 100,000 statements indexed: the ingest alone takes about 15 minutes on 2 cores.
bench-drafts: install
	$(BIN)/python -m eval.bench_drafts $(BENCH_ARGS)

eval: install
	$(BIN)/feedback eval --suite all

PORT ?= 5000
HOST ?= 127.0.0.1
serve: install
	$(BIN)/gunicorn -w 1 -b $(HOST):$(PORT) wsgi:app

# The production profile under load (docs/deployment.md): needs PostgreSQL and Redis on loopback; exits 3 without.
load: install
	$(BIN)/python -m eval.load $(LOAD_ARGS)

clean:
	rm -rf instance test-artifacts eval/out .pytest_cache
