# klmath: two commands on a fresh machine.
#   make demo   - the main job: proof checks, KL demo, benchmarks, models, report (results/)
#   make test   - lint, types, the test suite and the docs build
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
OUT     ?= results
export PYTHONHASHSEED := 0

.PHONY: venv test lint typecheck pytest docs demo bench proofs mutate clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev,models,docs]"
	touch $@

venv: $(BIN)/.installed

lint: venv
	$(BIN)/ruff check klmath models tests bench docs
	$(BIN)/ruff format --check klmath models tests bench docs

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest -q

docs: venv
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -q -b doctest docs docs/_build/doctest

test: lint typecheck pytest docs

proofs: venv
	$(BIN)/python -m klmath.proofs

# Mutation testing (mutmut) of the core, one module at a time: `make mutate` runs all,
# `make mutate MODULE=coupling` one; scores and survivors go to docs/results/mutation_*.json.
MODULE ?=
mutate: venv
	OMP_NUM_THREADS=1 $(BIN)/python bench/mutate.py $(MODULE)

bench: venv
	$(BIN)/python bench/gaussian_kl.py
	$(BIN)/python bench/coupling.py
	$(BIN)/python bench/import_cost.py
	$(BIN)/python bench/mc_coverage.py
	$(BIN)/python bench/mc_term_moments.py
	$(BIN)/python bench/mc_knn.py

demo: venv
	$(BIN)/python -m models.demo --out $(OUT)

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis
