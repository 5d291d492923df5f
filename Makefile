# layerlab: two commands take a fresh clone to a running course and to a green test suite.
#
#   make lab     set up .venv and start JupyterLab on notebooks/00-start-here.ipynb
#   make test    set up .venv and the reference tools, then run every check in every world
#
# The pieces of `make test` are targets of their own (see `make help`), so you can run
# just the part you are working on. The shell scripts behind them live in tests/support/.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
SUPPORT := tests/support
# Scripts run with the project's venv first on PATH, so `python` means the venv.
IN_VENV := PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
# Extra arguments for pytest, e.g.  make test-unit PYTEST_ARGS='-m "not slow" -x'
PYTEST_ARGS ?=
# Each part of `make test` reports its wall time (bash's `time`), to keep the total in view.
export TIMEFORMAT := layerlab: %0R s

# pip runs only when pyproject.toml changed since the last install, so a second
# `make lab` or `make test` is fast and changes nothing.
LAB_STAMP := $(VENV)/.layerlab-lab.stamp
# reveal.js for the slide decks (make slides, tests/course) comes from npm; the decks get
# a copy beside them, so they work offline.
REVEAL_JS := build/npm/node_modules/reveal.js
TEST_STAMP := $(VENV)/.layerlab-test.stamp
SITE_VENV := build/site-venv
SITE_STAMP := $(SITE_VENV)/.layerlab-site.stamp

.PHONY: help lab test setup-lab setup-test test-lint test-unit test-notebooks \
	test-notebooks-rootless test-notebooks-sim test-course test-purev2 notebooks solutions \
	slides hub test-image site test-lite catalogs

help:
	@echo "make lab                      start the course in JupyterLab (PORT=8888 by default)"
	@echo "make test                     everything below, with a private Docker engine"
	@echo "make test-lint                ruff check and ruff format --check"
	@echo "make test-unit                pytest tests/ as root: unit, reference, browser, binder"
	@echo "make test-notebooks           strict nbval over notebooks/, live as this user"
	@echo "make test-notebooks-rootless  strict nbval + tests marked live, as an unprivileged user"
	@echo "make test-notebooks-sim       strict nbval + tests marked live, with LAYERLAB_LIVE=0"
	@echo "make test-course              build the solutions (strict nbval) and the slides"
	@echo "make test-purev2              live tests + strict nbval on Debian 12's kernel 6.1, pure cgroup v2 (VM)"
	@echo "make notebooks                re-execute notebooks/ in place (as root) to refresh outputs"
	@echo "make solutions                instructors: build/solutions/NN-*.ipynb, every exercise solved"
	@echo "make slides                   instructors: build/slides/NN-*.slides.html, one deck per notebook"
	@echo "make test-image               build the Kubernetes singleuser image and run it (minutes)"
	@echo "make hub                      the workshop hub on 127.0.0.1:8000, as root (docs/workshop-hub.md)"
	@echo "make site                     build/site: the course as a static book plus JupyterLite"
	@echo "make test-lite                build the site, then only its browser test (book, JupyterLite)"
	@echo "make catalogs                 translators: extract messages, update the .po, compile the .mo"

# A venv from the first Python >= 3.10 on PATH. Debian's python3 needs python3-venv for
# this; as root it is installed, otherwise the error says how.
$(PY):
	@py=""; \
	for candidate in python3 python3.13 python3.12 python3.11 python3.10; do \
	  if command -v $$candidate >/dev/null && \
	     $$candidate -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then \
	    py=$$candidate; break; \
	  fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "layerlab: error: Python >= 3.10 is needed; install it (Debian: apt-get install python3 python3-venv)" >&2; \
	  exit 1; \
	fi; \
	echo "layerlab: creating $(VENV) with $$(command -v $$py) ($$($$py -V))"; \
	if ! $$py -m venv $(VENV); then \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && \
	    $$py -m venv $(VENV); \
	  else \
	    echo "layerlab: error: could not create $(VENV); on Debian/Ubuntu: sudo apt-get install python3-venv" >&2; \
	    exit 1; \
	  fi; \
	fi

$(LAB_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[lab]"
	@touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

# The site's build tools get a venv of their own: JupyterLite's kernel extension, once
# installed beside JupyterLab, loads into the course's own JupyterLab and breaks it there.
$(SITE_STAMP): pyproject.toml | $(PY)
	test -x $(SITE_VENV)/bin/python || $(PY) -c 'import sys, venv; venv.create(sys.argv[1], with_pip=True)' $(SITE_VENV)
	$(SITE_VENV)/bin/python -m pip install --quiet -e ".[site]"
	@touch $@

setup-lab: $(LAB_STAMP)
	@$(SUPPORT)/system-tools lab

setup-test: $(TEST_STAMP)
	@$(SUPPORT)/system-tools test

# JupyterLab on 127.0.0.1 only. JUPYTER_TOKEN, when set, is the token (JupyterLab reads
# it itself). No browser without a display; --allow-root because CI and many VMs are root.
lab: setup-lab
	exec $(VENV)/bin/jupyter lab notebooks/00-start-here.ipynb \
	  --ServerApp.root_dir="$(CURDIR)" --ip=127.0.0.1 --port="$${PORT:-8888}" --ServerApp.port_retries=0 \
	  $$(if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ] && [ "$$(uname)" != Darwin ]; then echo --no-browser; fi) \
	  $$(if [ "$$(id -u)" = 0 ]; then echo --allow-root; fi)

# -k: every part runs even after one fails, so one run reports all failures.
# with-dockerd starts a private Docker engine only if none answers, and always stops it.
# `site` comes before test-unit, whose browser tests check the built site offline.
test: setup-test
	@$(SUPPORT)/with-dockerd $(MAKE) --no-print-directory -k test-lint site test-unit \
	  test-notebooks test-notebooks-rootless test-notebooks-sim test-purev2 test-course

test-lint: setup-test
	time $(VENV)/bin/ruff check .
	time $(VENV)/bin/ruff format --check .

test-unit: setup-test $(REVEAL_JS)
	time $(IN_VENV) $(SUPPORT)/with-dockerd python -m pytest -rfEs --durations=10 $(PYTEST_ARGS) tests/

test-notebooks: setup-test
	time $(IN_VENV) $(SUPPORT)/run-notebooks $(PYTEST_ARGS)
	time $(IN_VENV) $(SUPPORT)/run-notebooks --short-path $(PYTEST_ARGS)

test-notebooks-rootless: setup-test
	time $(IN_VENV) $(SUPPORT)/rootless-world $(SUPPORT)/world-tests $(PYTEST_ARGS)

test-notebooks-sim: setup-test
	time LAYERLAB_LIVE=0 $(IN_VENV) $(SUPPORT)/world-tests $(PYTEST_ARGS)

# The gettext catalogs (docs/translating.md): extract the marked messages, bring
# layerlab/locale/zh/LC_MESSAGES/*.po in step with the code, compile the .mo files.
catalogs: setup-test
	$(IN_VENV) python $(SUPPORT)/catalogs

# The instructors' copies (docs/instructors.md). Solutions are executed as this user,
# and every check in them must say ✓; strict nbval then re-runs them.
solutions: setup-test
	time $(IN_VENV) python $(SUPPORT)/execute-notebooks --solutions build/solutions

$(REVEAL_JS):
	npm install --prefix build/npm --no-save --no-audit --no-fund --silent reveal.js@4.6.1

slides: setup-test $(REVEAL_JS)
	$(IN_VENV) python $(SUPPORT)/build-slides build/slides $(REVEAL_JS)

test-course: solutions slides
	time $(IN_VENV) python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=120 \
	  -p no:cacheprovider --nbval-sanitize-with notebooks/nbval-sanitize.cfg $(PYTEST_ARGS) build/solutions/

# The fourth world: the kernel most learners have (Debian 12's 6.1, pure cgroup v2) in qemu,
# as root and as a user with a delegated cgroup subtree. Needs root (see kernel-vm): on a
# laptop without it the world is skipped with the reason; under CI=true that is a failure.
# The .pyc files are compiled here first: the emulated VM is slow to compile, and the
# learner there may not write __pycache__ into the project.
test-purev2: setup-test
	@if [ "$$(id -u)" != 0 ] && [ "$${CI:-}" != true ]; then \
	  echo "layerlab: skipping the pure v2 world: tests/support/kernel-vm needs root"; \
	else \
	  $(PY) -m compileall -q layerlab tests >/dev/null && \
	  time $(IN_VENV) $(SUPPORT)/kernel-vm $(SUPPORT)/purev2-world $(PYTEST_ARGS); \
	fi

# Maintainers: refresh the committed outputs after changing layerlab or a notebook,
# then check all three worlds with the test-notebooks* targets before committing.
notebooks: setup-test
	$(IN_VENV) python $(SUPPORT)/execute-notebooks $(NOTEBOOKS)

# The Kubernetes singleuser image, built from debootstrap + docker import, then run: not
# part of `make test` because the build takes minutes (docs/workshop-hub.md).
test-image: setup-test
	time LAYERLAB_IMAGE_TEST=1 $(IN_VENV) $(SUPPORT)/with-dockerd python -m pytest -rfEs \
	  $(PYTEST_ARGS) tests/workshop/test_image.py

# The workshop hub (docs/workshop-hub.md): JupyterHub on 127.0.0.1:$${WORKSHOP_PORT:-8000},
# one Unix user per learner, as root. workshop/install puts the hub's software and the
# course under $${WORKSHOP_PREFIX:-/opt/layerlab-workshop} first (fast when nothing changed).
hub:
	workshop/install
	state="$${WORKSHOP_STATE:-/var/lib/layerlab-workshop}"; mkdir -p -m 700 "$$state" && cd "$$state" && \
	  exec "$${WORKSHOP_PREFIX:-/opt/layerlab-workshop}/venv/bin/jupyterhub" -f "$(CURDIR)/workshop/jupyterhub_config.py"

# The course as a static web site in build/site: the executed notebooks as a book, and
# JupyterLite running them in the browser (web/build.py says where each piece comes from).
# Downloads are cached in build/web-cache, so a rebuild takes a minute.
site: $(SITE_STAMP)
	time $(SITE_VENV)/bin/python web/build.py build/site

# Just the site's browser test (the book, and notebooks 04-07 in JupyterLite), which
# `make test` runs with the rest of test-unit.
test-lite: setup-test site
	time $(IN_VENV) python -m pytest -rfEs $(PYTEST_ARGS) tests/browser/test_site.py
