# Front door. `make run` and `make test` set everything up on a fresh machine (a .venv in the
# project folder) and are safe to repeat.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
CORES ?= 2
CONFIG ?= config/config.yaml
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete

.PHONY: run test lint style dry-run clean template new-review audit bench unlock help pages layout

help:
	@echo "make run     run the whole workflow on $(CONFIG) (installs into $(VENV) first)"
	@echo "make test    run the test suite (installs into $(VENV) first)"
	@echo "make audit   Snakemake's HTML report of the run (results/audit.html)"
	@echo "make pages   page images of every rendered PDF (results/pages/), and the blank-page check"
	@echo "make lint    ruff and snakemake --lint"
	@echo "make new-review REVIEW=<id> scaffold a review: config block, codebook, workbook"
	@echo "make template REVIEW=<id>   an Excel extraction template for a review's codebook"
	@echo "make clean   delete results/ and logs/ (everything there is rebuilt by make run)"

# Reinstall only when the declared dependencies change. Running needs only the package and
# its dependencies; test and bench tools come with `make test` and `make bench`.
$(STAMP): pyproject.toml
	@echo "evsynth: setting up $(VENV) (first time only, about a minute)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	@echo "evsynth: installing the test tools into $(VENV)..."
	@$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(TEST_STAMP)

# The run wrapper (src/evsynth/run.py) releases a lock left by a crashed run, shows progress,
# and ends with where each review's report is, or STOPPED and why.
run: $(STAMP)
	@$(BIN)/python -m evsynth.cli run --config $(CONFIG) --cores $(CORES)

# Snakemake's own HTML report of the last run: every stage's tables and figures, captioned.
audit: $(STAMP)
	$(SNAKEMAKE) --report results/audit.html
	@echo "Open results/audit.html to browse the run step by step."

# Page images of every rendered PDF, one contact sheet each, then the blank-page check (no page
# but a document's last may be more than 40% blank). Run after `make run`.
pages: $(TEST_STAMP)
	$(BIN)/python tools/page_images.py
	$(BIN)/python -m evsynth.layout results/*/report/*.pdf

# Speed and memory at 1k, 10k and 100k studies, against read_csv, frictionless and PyMARE.
bench: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

# `make run` releases a crashed run's lock by itself; this is for Snakemake run by hand.
unlock: $(STAMP)
	$(SNAKEMAKE) --unlock

dry-run: $(STAMP)
	$(SNAKEMAKE) --dry-run

# One pytest worker per core (pytest-xdist), handed tests one at a time and taking work from
# each other at the end, so no core sits idle behind a long file. The workflow runs that many
# tests read (the tiny review's, the examples') are built once and shared by the workers
# (conftest.built_once). (loadgroup would group by module, but pytest 9.2 broke it:
# pytest-xdist issue 1386.)
# Serial, e.g. on a machine shared with other work: make test PYTEST_ARGS=
# Python may cache compiled modules (__pycache__, git-ignored) even where the environment says
# PYTHONDONTWRITEBYTECODE, as this project's build machines do: else every one of the suite's
# ~70 Snakemake and command processes compiles the package again, and each worker rewrites
# every test module's asserts before its first test (about 5 s a worker).
PYTEST_ARGS ?= -n auto --dist worksteal
test: $(TEST_STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest $(PYTEST_ARGS)

# snakemake --lint asks for a conda env per rule; every rule runs in the one project
# environment (pyproject.toml, or environment.yml for conda), so that lint alone is expected.
lint: style
	-$(BIN)/snakemake --snakefile workflow/Snakefile --lint

# What CI checks before the tests: ruff's lint rules and its formatting, unchanged.
style: $(TEST_STAMP)
	$(BIN)/ruff check src tests scripts bench tools
	$(BIN)/ruff format --check src tests scripts bench tools

# A new review, ready to fill: make new-review REVIEW=my-review
new-review: $(STAMP)
	@test -n "$(REVIEW)" || (echo "usage: make new-review REVIEW=<review id>"; exit 2)
	@$(BIN)/python -m evsynth.cli new-review $(REVIEW) --config $(CONFIG)

# An Excel extraction template for one review: make template REVIEW=families [OUT=path.xlsx]
OUT ?= templates/$(REVIEW)-extraction.xlsx
template: $(STAMP)
	@test -n "$(REVIEW)" || (echo "usage: make template REVIEW=<review id>"; exit 2)
	@mkdir -p $(dir $(OUT))
	@$(BIN)/python -m evsynth.cli template --codebook config/codebooks/$(REVIEW).yaml \
	  --out $(OUT)

clean:
	rm -rf results logs benchmarks .snakemake/metadata .snakemake/incomplete

# Mutation check (tools/mutate.py): each listed bug is applied to a copy of the project and its
# tests are run; exits non-zero when fewer than 90% are caught. The working tree is not touched.
.PHONY: mutate
mutate: $(TEST_STAMP)
	$(BIN)/python tools/mutate.py $(MUTATE_ARGS)
