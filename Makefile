# Neural Network Anatomy — the two commands of the README, each doing its own set-up.
#
#   make test   unit tests and every notebook under nbval (strict output comparison)
#   make book   the site, into _build/html (any Sphinx warning fails the build), with the
#               student edition (solutions hidden) in _build/html/student
#   make site-test   the built site in headless Chromium (needs Debian's chromium)
#
# The first run creates .venv: the CPU build of PyTorch first (TORCH, override it for a
# CUDA machine: make test TORCH=torch), then the package with its book and test extras.

PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.nnanatomy-installed
# MathJax is served from the site itself (no CDN): installed from package-lock.json with npm.
MATHJAX_SRC := node_modules/mathjax/es5
MATHJAX     := book/_static/mathjax/tex-mml-chtml.js

PYTEST_ARGS ?=
BOOK_ARGS   ?=

.PHONY: test book site-test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[book,test,compare]"
	@touch $@

test: $(STAMP)
	$(BIN)/python -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
		tests lessons $(PYTEST_ARGS)

$(MATHJAX): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -rf book/_static/mathjax
	mkdir -p book/_static/mathjax/output
	cp $(MATHJAX_SRC)/tex-mml-chtml.js node_modules/mathjax/LICENSE book/_static/mathjax/
	cp -r $(MATHJAX_SRC)/input $(MATHJAX_SRC)/a11y $(MATHJAX_SRC)/ui $(MATHJAX_SRC)/adaptors book/_static/mathjax/
	cp -r $(MATHJAX_SRC)/output/chtml book/_static/mathjax/output/

book: $(STAMP) $(MATHJAX)
	$(BIN)/jupyter-book build . -W -n --keep-going $(BOOK_ARGS)
	$(BIN)/python tools/student_config.py _build/student_config.yml
	$(BIN)/jupyter-book build . -W -n --keep-going --config _build/student_config.yml --path-output _build/student $(BOOK_ARGS)
	rm -rf _build/html/student
	cp -r _build/student/_build/html _build/html/student

CHROMIUM ?= /usr/bin/chromium

site-test: $(STAMP)
	@test -x $(CHROMIUM) || { echo "site-test needs Chromium at $(CHROMIUM): apt-get install -y chromium"; exit 1; }
	@test -f _build/html/index.html || { echo "site-test needs the built site: run make book first"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[site]"
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest tests/site --site _build/html -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf _build book/_static/mathjax node_modules
