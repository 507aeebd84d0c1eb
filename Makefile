# The two commands a person needs: `make lab` and `make test`. The rest is for maintainers.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# configurable-http-proxy (npm) for the JupyterHub the workshop check starts
CHP := $(VENV)/node/node_modules/.bin/configurable-http-proxy
WORKSPACE ?= my-work
# JupyterLab refuses to run as root unless told; a laptop user never needs it.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_NB := --nbval --nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout=300

.PHONY: lab test venv dev workspace progress workshop-check exercises notebooks docs bench lint clean

# On a machine whose pip would fetch torch's CUDA build (plain PyPI on Linux), run e.g.
#   make lab TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install --quiet torch==2.13.0 --index-url $(TORCH_INDEX))
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@if $(PY) -m pip list 2>/dev/null | grep -qi nvidia; then \
	  echo "CUDA packages found in $(VENV): torch must be the pinned CPU build"; exit 1; fi
	touch $(STAMP)

# The developer set (tests, lint, browser, nbgrader, JupyterHub) on top of the learner set.
$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@if $(PY) -m pip list 2>/dev/null | grep -qi nvidia; then \
	  echo "CUDA packages found in $(VENV): torch must be the pinned CPU build"; exit 1; fi
	touch $(DEV_STAMP)

$(CHP):
	npm install --silent --no-fund --no-audit --prefix $(VENV)/node configurable-http-proxy@5.3.0

venv: $(STAMP)

dev: $(DEV_STAMP) $(CHP)

lab: $(STAMP) workspace  ## open JupyterLab on the lessons and your workspace (token auth on, localhost only)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG)

workspace: $(STAMP)  ## copy new exercise notebooks into $(WORKSPACE)/ (never overwrites your answers)
	$(PY) tools/workspace.py --workspace $(WORKSPACE)

progress: $(STAMP)  ## one line per exercise in your workspace: ✅ / ❌ + hint / ✏️, and a total
	$(PY) tools/progress.py $(WORKSPACE)

workshop-check: $(DEV_STAMP) $(CHP)  ## start a throwaway hub on 127.0.0.1, USERS learners run a lesson
	$(PY) tools/workshop_check.py --users $(or $(USERS),5) --proxy $(CHP) $(ARGS)

test: $(DEV_STAMP) $(CHP)  ## lint, unit/oracle/property tests, doctests, every notebook, exercise sync
	$(PY) tools/ensure_chromium.py
	$(VENV)/bin/ruff check .
	$(PY) tools/nbbuild.py --check
	$(PY) tools/make_exercises.py --check
	$(PY) tools/make_doc_figures.py --check
	$(PY) -m pytest -n 2 --dist loadfile --doctest-modules attnkit tests notebooks solutions $(PYTEST_NB)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

notebooks: $(STAMP)  ## rebuild and execute notebooks/ and solutions/ from tools/nbsrc/
	$(PY) tools/nbbuild.py $(ONLY)

exercises: $(STAMP)  ## write exercises/ from solutions/ (stubs in place of solutions)
	$(PY) tools/make_exercises.py

docs: $(STAMP)  ## README lesson map, docs/img thumbnails, the guide's quiz list (from the notebooks)
	$(PY) tools/make_doc_figures.py

bench: $(STAMP)  ## speed and memory against PyTorch's kernels; tables and plots in benchmarks/results/
	$(PY) benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info
