# cnnkit: two commands do all the set-up.
#   make lab    open the course in JupyterLab (creates .venv on first use)
#   make test   run the whole test suite      (creates .venv on first use)
# Both call the package's own commands (cnnkit/launch.py), which work without make too:
# `pip install -e ".[lab]"`, then `cnnkit lab` / `cnnkit test` (README, "Two commands").
#   make hub    a real JupyterHub for a trial class (hub/README.md); make hub-clean removes it

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

# The trial JupyterHub (`make hub`): its state folder, port (default 8000, or a free one if taken)
# and the configurable-http-proxy release installed from npm into $(HUB_DIR)/node.
HUB_DIR ?= .hub
HUB_PORT ?=
CHP_VERSION ?= 5.3.0
CHP = $(HUB_DIR)/node/node_modules/.bin/configurable-http-proxy

.PHONY: lab test bench venv clean-venv hub hub-deps hub-clean

venv: $(BIN)/.cnnkit-installed

$(BIN)/.cnnkit-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" || $(BIN)/python -m pip install --quiet torch
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# `cnnkit lab` runs jupyter lab --notebook-dir=. --port=PORT --no-browser
# --ServerApp.default_url=/lab/tree/lectures (and --allow-root as root) in the course folder.
lab: venv
	$(BIN)/python -m cnnkit lab --port $(PORT) $(LAB_ARGS)

# `cnnkit test` runs python -m pytest in the course folder with .venv/bin first on PATH.
test: venv
	$(BIN)/python -m cnnkit test -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

bench: venv
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)

hub: hub-deps
	$(BIN)/python hub/launch.py --state $(HUB_DIR) $(if $(HUB_PORT),--port $(HUB_PORT),) $(HUB_ARGS)

# JupyterHub in .venv (the `hub` extra) and configurable-http-proxy in $(HUB_DIR)/node (not -g)
hub-deps: $(BIN)/.cnnkit-hub-installed $(CHP)

$(BIN)/.cnnkit-hub-installed: $(BIN)/.cnnkit-installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,hub]"
	touch $@

$(CHP):
	mkdir -p $(HUB_DIR) && test -f $(HUB_DIR)/.gitignore || echo '*' > $(HUB_DIR)/.gitignore
	npm install --prefix $(HUB_DIR)/node --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)

# stops what is left, deletes the class's Unix accounts, restores permissions, removes $(HUB_DIR)
hub-clean:
	$(PYTHON) hub/launch.py clean --state $(HUB_DIR)

# The course site: runs every lecture at the small size (a lecture whose source is unchanged since the
# last build is not run again) and writes static pages that work offline to _site/ (open _site/index.html).
# SITE_ARGS passes options to site/build_site.py, e.g. SITE_ARGS="--force" or "--jobs 2" or
# "--lab-url /hub/user-redirect/lab/tree/lectures/".
.PHONY: site site-clean
site: venv
	$(BIN)/python site/build_site.py $(SITE_ARGS)

site-clean:
	rm -rf _site
