# Neural Network Anatomy — the two commands of the README, each doing its own set-up.
#
#   make test   unit tests and every notebook under nbval (strict output comparison)
#   make book   the site, into _build/html (any Sphinx warning fails the build), with the
#               student edition (solutions hidden) in _build/html/student
#   make site-test   the built site in headless Chromium (needs Debian's chromium)
#   make colab-check the package installed as Colab installs it, three notebooks run there
#   make threads-check  the notebooks whose numbers once depended on the thread count, under nbval
#                       with another one
#   make gpu-check   every notebook on CUDA at both scales, report in tools/reports/ (GPU machines)
#
# The first run creates .venv: the CPU build of PyTorch first (TORCH), then the package with
# its book, test and compare extras. make test compares outputs made on a CPU: it is the CPU
# build and the settings below on every machine, a GPU included (use make gpu-check there).

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
# The settings the committed outputs were made under: CPU, cpu scale, no progress widgets. Each
# notebook fixes its own thread count (runtime.fix_threads(1)), so JOBS notebooks run side by side.
NB_ENV := NNANATOMY_DEVICE=cpu NNANATOMY_SCALE=cpu NNANATOMY_PROGRESS=0
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600
# chapters whose printed numbers changed with the thread count before they fixed it
THREADS_AT_RISK := lessons/07_moe.ipynb lessons/a2_stability.ipynb lessons/a4_scale_out.ipynb

.PHONY: test book site-test venv clean colab-check threads-check gpu-check test-times

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[book,test,compare,reference]"
	# Ultimate Vocal Remover's network and spectrogram code, the reference of chapter 12's published
	# setting (tests/test_vocal_remover_published.py). Without its dependencies: the two modules the
	# test imports need only torch, librosa and soundfile; the package would pull ONNX Runtime and more.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "audio-separator==0.47.1"
	@touch $@

test: $(STAMP)
	$(NB_ENV) $(BIN)/python -m pytest -n $(JOBS) --dist loadfile $(NBVAL) tests lessons $(PYTEST_ARGS)

# per-notebook wall times under nbval, one notebook at a time (a benchmark, not a test)
test-times: $(STAMP)
	$(NB_ENV) $(BIN)/python tools/notebook_times.py $(PYTEST_ARGS)

threads-check: $(STAMP)
	OMP_NUM_THREADS=4 MKL_NUM_THREADS=4 OPENBLAS_NUM_THREADS=4 $(NB_ENV) \
		$(BIN)/python -m pytest -p no:xdist $(NBVAL) $(THREADS_AT_RISK) $(PYTEST_ARGS)

colab-check: $(STAMP)
	$(BIN)/python tools/colab_check.py --torch "$(TORCH)"

gpu-check: $(STAMP)
	$(BIN)/python tools/gpu_check.py

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
