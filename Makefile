# Front door. `make run` and `make test` set everything up on a fresh machine (a .venv in the
# project folder) and are safe to repeat.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
CONFIG ?= config/config.yaml
SNAKEMAKE := $(BIN)/snakemake --snakefile workflow/Snakefile --configfile $(CONFIG) --cores $(CORES)

.PHONY: run test lint dry-run clean template help

help:
	@echo "make run     run the whole workflow on $(CONFIG) (installs into $(VENV) first)"
	@echo "make test    run the test suite (installs into $(VENV) first)"
	@echo "make lint    ruff and snakemake --lint"
	@echo "make clean   delete results/ and logs/ (everything there is rebuilt by make run)"

# Reinstall only when the declared dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	@$(SNAKEMAKE) --keep-going --quiet rules progress || $(BIN)/python -m evsynth.cli explain-failure --config $(CONFIG)

dry-run: $(STAMP)
	$(SNAKEMAKE) --dry-run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/snakemake --snakefile workflow/Snakefile --lint

clean:
	rm -rf results logs benchmarks .snakemake/metadata .snakemake/incomplete
