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

# Training chapters run under --nbval-lax (only cells tagged to be checked are compared);
# every other chapter is checked strictly against its committed outputs.
LAX_NOTEBOOKS    := $(sort $(wildcard notebooks/*_train_*.ipynb))
STRICT_NOTEBOOKS := $(filter-out $(LAX_NOTEBOOKS),$(sort $(wildcard notebooks/*.ipynb)))
LAB_ROOT_FLAG    := $(if $(filter 0,$(shell id -u)),--allow-root,)
JOBS ?= 2

export DEEPLAB_EDU_PROFILE ?=

.PHONY: lab test test-unit test-notebooks test-browser notebooks sync venv clean-venv gpu-check

$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per constraint file, so switching between CPU and CUDA torch reinstalls.
$(VENV)/.installed-%: pyproject.toml $(VENV)/pyvenv.cfg
	$(BIN)/python -m pip install --quiet $(if $(CONSTRAINT),-c $(CONSTRAINT),) -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $@

LAB_STAMP  := $(VENV)/.installed-$(if $(TORCH_CONSTRAINT),$(notdir $(TORCH_CONSTRAINT)),any)
TEST_STAMP := $(VENV)/.installed-$(if $(TEST_TORCH_CONSTRAINT),$(notdir $(TEST_TORCH_CONSTRAINT)),any)

## lab: open the book (JupyterLab on notebooks/), installing on first use.
lab:
	$(MAKE) --no-print-directory $(LAB_STAMP) CONSTRAINT=$(TORCH_CONSTRAINT)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ROOT_FLAG) $(LAB_ARGS)

## test: the whole suite (unit tests, notebook pairs, every chapter under nbval), smoke profile.
test:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)
	$(MAKE) --no-print-directory test-unit test-notebooks DEEPLAB_EDU_PROFILE=smoke

test-unit:
	$(BIN)/python -m pytest -n $(JOBS) tests

test-notebooks:
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(STRICT_NOTEBOOKS)
	$(if $(LAX_NOTEBOOKS),$(BIN)/python -m pytest -n $(JOBS) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg $(LAX_NOTEBOOKS),@true)

## test-browser: widgets in real JupyterLab + headless Chromium (installs Debian's chromium as root).
CHROMIUM ?= $(or $(DEEPLAB_EDU_CHROMIUM),/usr/bin/chromium)
test-browser:
	$(MAKE) --no-print-directory $(TEST_STAMP) CONSTRAINT=$(TEST_TORCH_CONSTRAINT)
	@[ -x "$(CHROMIUM)" ] || { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "test-browser needs Chromium: sudo apt-get install chromium (or set DEEPLAB_EDU_CHROMIUM)"; fi; }
	DEEPLAB_EDU_CHROMIUM=$(CHROMIUM) DEEPLAB_EDU_PROFILE=smoke $(BIN)/python -m pytest tests/browser

## notebooks: re-execute every chapter (or NB=notebooks/03_x.py) and rewrite its .ipynb.
NB ?= $(sort $(wildcard notebooks/[0-9]*.py))
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

venv: $(TEST_STAMP)

clean-venv:
	rm -rf $(VENV)
