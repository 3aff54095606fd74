# drummernet developer commands. `make demo` and `make test` work on a fresh machine: they create
# the virtual environment if it is missing. torch is pinned to the CPU wheel first, because an
# unpinned torch (also one pulled in by entmax) resolves to a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test install bench lint format clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/drummernet transcribe drummernet/data/example.flac -o out/demo --format mid,json --print --overwrite --no-progress
	@echo "MIDI written to out/demo/example.mid; scores against the example's own MIDI:"
	$(BIN)/drummernet evaluate --dataset drummernet/data

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=10

bench: $(STAMP)
	$(BIN)/python experiments/bench.py

lint: $(STAMP)
	$(BIN)/ruff check drummernet drum_components experiments tests
	$(BIN)/ruff format --check drummernet drum_components experiments tests

format: $(STAMP)
	$(BIN)/ruff format drummernet drum_components experiments tests

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
