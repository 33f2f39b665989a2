# One virtual environment, created when missing; every target uses it.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test soak lint venv clean

$(BIN)/govbridge: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/govbridge

venv: $(BIN)/govbridge

demo: venv
	$(BIN)/govbridge demo

test: venv
	$(BIN)/python -m pytest -q

soak: venv
	$(BIN)/python -m pytest -q -m soak

$(BIN)/ruff: $(BIN)/govbridge
	$(BIN)/pip install --quiet -e '.[lint]'
	touch $(BIN)/ruff

lint: $(BIN)/ruff
	$(BIN)/ruff check bridge tests bench

# Benchmarks (bench/): about 30 minutes, rewrites docs/BENCHMARKS.md.
.PHONY: bench
bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
