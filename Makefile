# drummernet developer commands. `make demo` and `make test` work on a fresh machine: they create
# the virtual environment if it is missing. torch is pinned to the CPU wheel first, because an
# unpinned torch (also one pulled in by entmax) resolves to a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
export OMP_WAIT_POLICY ?= PASSIVE

DATA ?= ../shared/data
.PHONY: demo test test-fast check install bench lint format types imports clean train-default

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

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m experiments.bench --synthetic 48 --other-kits 32 --no-adapt

# Reproduces the shipped model: unsupervised training (reconstruction loss only) on synthetic stems
# from the Groove MIDI Dataset's train split plus the unlabeled loops, then the note threshold is
# calibrated on synthetic audio (never on the dev set) and the file is copied into the package.
train-default: $(STAMP)
	$(BIN)/drummernet train $(DATA)/loops --synthetic-midi $(DATA)/gmd/groove --out runs/default \
		--config experiments/configs/base.json --resume
	$(BIN)/python -m experiments.calibrate runs/default/model.safetensors --sr 16000 --write
	$(BIN)/python -m experiments.calibrate runs/default/model.safetensors --adapt --balance both --write
	$(BIN)/python -m experiments.calibrate runs/default/model.safetensors --adapt --sr 16000 --write
	cp runs/default/model.safetensors drummernet/pretrained/default.safetensors

lint: $(STAMP)
	$(BIN)/ruff check drummernet tools experiments tests
	$(BIN)/ruff format --check drummernet tools experiments tests

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# The gates CI runs before the tests: lint and format, types, the import layers.
check: lint types imports

format: $(STAMP)
	$(BIN)/ruff format drummernet tools experiments tests

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
