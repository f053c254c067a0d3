# cnnkit: two commands do all the set-up.
#   make lab    open the course in JupyterLab (creates .venv on first use)
#   make test   run the whole test suite      (creates .venv on first use)

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# The torch release the kit is tested with. Where that release has no wheel for your
# platform, the newest torch from your index is taken instead.
TORCH_VERSION ?= 2.13.0
# Parallel test workers (pytest-xdist); "auto" uses every core. Files are the unit of
# distribution (--dist loadfile) so each file's expensive shared fixture (an nbgrader course,
# a graded class) is built once: with pytest 9.2 + xdist 3.8, --dist loadgroup ignores
# xdist_group marks (checked on this machine).
JOBS ?= 2
PORT ?= 8888
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test bench venv clean-venv

venv: $(BIN)/.cnnkit-installed

$(BIN)/.cnnkit-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" || $(BIN)/python -m pip install --quiet torch
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

lab: venv
	$(BIN)/jupyter lab --notebook-dir=. --port=$(PORT) --no-browser --ServerApp.default_url=/lab/tree/lectures $(ALLOW_ROOT) $(LAB_ARGS)

test: venv
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

bench: venv
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
