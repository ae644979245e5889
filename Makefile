# deeplab_edu — the two commands a reader needs are `make lab` and `make test`.
# Both create .venv and install the book into it on first use (and again whenever
# pyproject.toml or the torch constraint changes), so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Which torch to install. The test command pins the CPU build the CI machines carry;
# `make lab` does the same unless an NVIDIA driver is present, in which case pip resolves
# the normal (CUDA) build from PyPI. Override with TORCH_CONSTRAINT= (empty) to keep
# whatever torch you installed into .venv yourself.
HAVE_NVIDIA := $(shell command -v nvidia-smi 2>/dev/null)
TORCH_CONSTRAINT ?= $(if $(HAVE_NVIDIA),,constraints/cpu.txt)
TEST_TORCH_CONSTRAINT ?= constraints/cpu.txt
# Where pip finds the CPU build of torch: PyPI's torch for Linux is the CUDA build (several GB
# of CUDA packages). The index is used only when it answers within a few seconds: behind a
# closed network pip would otherwise retry it for every package (minutes) before falling back
# to the machine's own wheels. Set TORCH_CPU_INDEX= (empty) to skip it, or to a mirror.
PYTORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
TORCH_CPU_INDEX ?= $(shell $(PYTHON) -c "import urllib.request; urllib.request.urlopen('$(PYTORCH_CPU_INDEX)/', timeout=4)" >/dev/null 2>&1 && echo $(PYTORCH_CPU_INDEX))

# Training chapters run under --nbval-lax (only cells tagged to be checked are compared);
# every other chapter is checked strictly against its committed outputs.
LAX_NOTEBOOKS    := $(sort $(wildcard notebooks/*_train_*.ipynb))
STRICT_NOTEBOOKS := $(filter-out $(LAX_NOTEBOOKS),$(sort $(wildcard notebooks/*.ipynb)))
LAB_ROOT_FLAG    := $(if $(filter 0,$(shell id -u)),--allow-root,)
JOBS ?= 2

export DEEPLAB_EDU_PROFILE ?=

.PHONY: lab test test-fast lint test-unit test-notebooks test-browser notebooks sync venv clean-venv gpu-check

$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per constraint file, so switching between CPU and CUDA torch reinstalls.
# The first install downloads torch (the CPU build is about 200 MB) and the book's other
# packages, a few minutes on an ordinary connection; pip's progress bars show it happening.
$(VENV)/.installed-%: pyproject.toml $(VENV)/pyvenv.cfg
	@echo "installing deeplab_edu into $(VENV)$(if $(CONSTRAINT), with $(CONSTRAINT),)$(if $(and $(CONSTRAINT),$(TORCH_CPU_INDEX)), (torch from $(TORCH_CPU_INDEX)),) — first time: a few minutes"
	$(BIN)/python -m pip install --progress-bar on $(if $(CONSTRAINT),-c $(CONSTRAINT),) \
		$(if $(and $(filter constraints/cpu.txt,$(CONSTRAINT)),$(TORCH_CPU_INDEX)),--extra-index-url $(TORCH_CPU_INDEX),) -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

LAB_STAMP  := $(VENV)/.installed-$(if $(TORCH_CONSTRAINT),$(notdir $(TORCH_CONSTRAINT)),any)
TEST_STAMP := $(VENV)/.installed-$(if $(TEST_TORCH_CONSTRAINT),$(notdir $(TEST_TORCH_CONSTRAINT)),any)

## lab: open the book (JupyterLab on notebooks/), installing on first use.
lab:
	$(MAKE) --no-print-directory $(LAB_STAMP) CONSTRAINT=$(TORCH_CONSTRAINT)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ROOT_FLAG) $(LAB_ARGS)

## test: the whole suite (lint, unit tests with the layer contract, notebook pairs, every
## chapter under nbval), smoke profile.
test:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)
	$(MAKE) --no-print-directory lint test-unit test-notebooks DEEPLAB_EDU_PROFILE=smoke

## test-fast: the unit tests not marked slow (under a minute): the loop to run while working.
test-fast:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)
	DEEPLAB_EDU_PROFILE=smoke $(BIN)/python -m pytest -n $(JOBS) -m "not slow" -q tests

## lint: ruff with the rules in pyproject.toml (pyflakes, pycodestyle errors, stale noqa).
lint:
	$(BIN)/ruff check deeplab_edu tests tools benchmarks

test-unit:
	$(BIN)/python -m pytest -n $(JOBS) tests

test-notebooks:
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(STRICT_NOTEBOOKS)
	$(if $(LAX_NOTEBOOKS),$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(LAX_NOTEBOOKS),@true)

## test-browser: widgets in real JupyterLab + headless Chromium. It never installs system
## packages by itself: install Chromium first, or pass INSTALL_CHROMIUM=1 (root, Debian/Ubuntu:
## `apt-get install --no-install-recommends chromium`, no upgrades).
CHROMIUM ?= $(or $(DEEPLAB_EDU_CHROMIUM),/usr/bin/chromium)
INSTALL_CHROMIUM ?=
test-browser:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)
	@[ -x "$(CHROMIUM)" ] || { if [ -n "$(INSTALL_CHROMIUM)" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "test-browser needs Chromium at $(CHROMIUM): install it (sudo apt-get install chromium), set DEEPLAB_EDU_CHROMIUM, or run make test-browser INSTALL_CHROMIUM=1 as root"; exit 1; fi; }
	DEEPLAB_EDU_CHROMIUM=$(CHROMIUM) DEEPLAB_EDU_PROFILE=smoke $(BIN)/python -m pytest tests/browser

## notebooks: re-execute every chapter (or NB=notebooks/03_x.py) and rewrite its .ipynb.
# Chapter 00 runs last: it prints the wall times the other chapters' runs record.
NB ?= $(filter-out notebooks/00_tour.py,$(sort $(wildcard notebooks/[0-9]*.py))) notebooks/00_tour.py
notebooks:
	$(BIN)/python -m tools.execute_notebooks $(NB)

## sync: after editing a .py chapter, bring its .ipynb in line (outputs are kept).
sync:
	$(BIN)/jupytext --sync $(sort $(wildcard notebooks/[0-9]*.py))

## gpu-check: measure the GPU path in one run (<= 8 min on one H100), no venv needed:
## only the python that has torch (GPU_PYTHON=...); writes $(GPU_REPORT)/report.md and report.json.
GPU_PYTHON ?= python3
GPU_REPORT ?= gpu-report
gpu-check:
	PYTHONPATH=.$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) -m deeplab_edu gpu-check --out $(GPU_REPORT) $(GPU_CHECK_ARGS)

## venv: create .venv and install the book as `make test` does (with the CPU torch pin).
venv:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)

clean-venv:
	rm -rf $(VENV)
