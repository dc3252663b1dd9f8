# One command sets up and runs the demo; one sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, from the CPU build, so that pip never pulls the CUDA wheels on a CPU machine.
TORCH ?= torch==2.13.0

.PHONY: setup demo test lint typecheck bench-ingest clean

$(BIN)/sentrec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/sentrec

setup: $(BIN)/sentrec

demo: setup
	$(BIN)/sentrec demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

bench-ingest: setup
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .sentrec .pytest_cache .mypy_cache .ruff_cache
