# Two commands do all set-up on a fresh machine: `make render` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: render check test lint golden bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# setuptools warns that an editable install is editable: nothing a user acts on
	# (tests/test_packaging.py proves that a real build warns of nothing).
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

render: $(STAMP)
	$(BIN)/harborgen render topology.yaml
	$(BIN)/harborgen render examples/harbor2/topology.yaml

check: $(STAMP)
	$(BIN)/harborgen check topology.yaml
	$(BIN)/harborgen check examples/harbor2/topology.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

# ruff over the Python; shellcheck over the plain scripts (templates/scripts/), once,
# following the values.sh of a bundle that holds every role, and over every values.sh.
lint: $(STAMP)
	$(BIN)/ruff check generator tests
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_real_components.py -k "shellcheck or values_file"

golden: $(STAMP)
	$(BIN)/python -m tests.golden_tool

# Many more hostile and plausible topologies than make test runs, with fresh seeds; found failures stay in .hypothesis/.
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	HARBORGEN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:randomly --hypothesis-show-statistics \
		tests/test_hostile_input.py tests/test_trust_boundary.py -k "hostile_topologies or any_"

bench: $(STAMP)
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench_datapath
	$(BIN)/python -m tests.bench_lb_pair
	$(BIN)/python -m tests.bench_galera
	$(BIN)/python -m tests.bench_patroni
	$(BIN)/python -m tests.bench_sentinel

clean:
	rm -rf $(VENV) .pytest_cache
