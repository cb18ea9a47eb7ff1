# Front door. `make run` and `make test` set everything up on a fresh machine (a .venv in the
# project folder) and are safe to repeat.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
CONFIG ?= config/config.yaml
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete

.PHONY: run test lint dry-run clean template audit bench unlock help

help:
	@echo "make run     run the whole workflow on $(CONFIG) (installs into $(VENV) first)"
	@echo "make test    run the test suite (installs into $(VENV) first)"
	@echo "make audit   Snakemake's HTML report of the run (results/audit.html)"
	@echo "make lint    ruff and snakemake --lint"
	@echo "make template REVIEW=<id>   an Excel extraction template for a review's codebook"
	@echo "make clean   delete results/ and logs/ (everything there is rebuilt by make run)"

# Reinstall only when the declared dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Snakemake stays quiet but for the reviews' own messages; the summary says where the
# reports are, or which file explains why a review stopped.
run: $(STAMP)
	@$(SNAKEMAKE) --keep-going --quiet all; status=$$?; \
	$(BIN)/python -m evsynth.cli summary --config $(CONFIG) && exit $$status

# Snakemake's own HTML report of the last run: every stage's tables and figures, captioned.
audit: $(STAMP)
	$(SNAKEMAKE) --report results/audit.html
	@echo "Open results/audit.html to browse the run step by step."

# Speed and memory at 1k, 10k and 100k studies, against read_csv, frictionless and PyMARE.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

# After a crash or `kill -9`, Snakemake's lock stays behind: release it, then `make run`
# redoes whatever was cut off (--rerun-incomplete).
unlock: $(STAMP)
	$(SNAKEMAKE) --unlock

dry-run: $(STAMP)
	$(SNAKEMAKE) --dry-run

test: $(STAMP)
	$(BIN)/python -m pytest

# snakemake --lint asks for a conda env per rule; every rule runs in the one project
# environment (pyproject.toml, or environment.yml for conda), so that lint alone is expected.
lint: $(STAMP)
	$(BIN)/ruff check src tests scripts bench
	-$(BIN)/snakemake --snakefile workflow/Snakefile --lint

# An Excel extraction template for one review: make template REVIEW=families
template: $(STAMP)
	@test -n "$(REVIEW)" || (echo "usage: make template REVIEW=<review id>"; exit 2)
	@mkdir -p templates
	$(BIN)/python -m evsynth.cli template --codebook config/codebooks/$(REVIEW).yaml \
	  --out templates/$(REVIEW)-extraction.xlsx

clean:
	rm -rf results logs benchmarks .snakemake/metadata .snakemake/incomplete
