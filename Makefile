# The two commands a new user needs: `make book` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
# torch and faiss each bring an OpenMP runtime; passive waiting avoids spinning on 2 shared cores.
export OMP_WAIT_POLICY := PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test data execute build sync check-sync lint unit nbval smoke full reproduce seeds ablations bench mutate clean

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data: $(STAMP)
	$(BIN)/python -m ganret_lib.data

## make book: run every chapter (quick profile), each replaced only when its run succeeds, then build the HTML book
book: execute build
	@echo "The book is in $(CURDIR)/_build/html/index.html"

sync: $(STAMP)
	$(BIN)/python scripts/sync_notebooks.py

check-sync: $(STAMP)
	$(BIN)/python scripts/check_sync.py

execute: data check-sync
	@for nb in $(NOTEBOOKS); do \
	  echo "executing $$nb"; \
	  $(BIN)/python scripts/execute_notebook.py "$$nb" || exit 1; \
	  $(BIN)/python scripts/sync_notebooks.py "$$nb"; \
	done

build: $(STAMP)
	$(BIN)/jupyter-book build -W -n --keep-going -q .
	$(BIN)/python scripts/check_offline_html.py _build/html

lint: $(STAMP)
	$(BIN)/ruff check .

## make test: lint, unit tests, pairing, nbval with its records compared, smoke runs, offline book build
test: data lint
	$(BIN)/python -m pytest -q tests
	$(BIN)/python scripts/check_sync.py
	@# the chapters re-executed by nbval write their records into a copy, not over the committed ones;
	@# then every number of those records is compared with the committed ones (exact on the same
	@# hardware, within data/results/tolerances.toml across hardware), as `make reproduce` would
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; cp -r data/results/. "$$tmp"; \
	  GANRET_RESULTS="$$tmp" $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider $(NOTEBOOKS); \
	  $(BIN)/python scripts/reproduce.py --profile quick --records "$$tmp"
	$(MAKE) smoke
	$(MAKE) build

smoke: data
	@tmp=$$(mktemp -d); for nb in $(NOTEBOOKS); do \
	  echo "smoke run of $$nb"; \
	  $(BIN)/papermill -k python3 --cwd notebooks --no-progress-bar "$$nb" "$$tmp/$$(basename $$nb)" -p profile smoke >/dev/null || exit 1; \
	done; rm -rf "$$tmp"; echo "smoke runs passed: $(words $(NOTEBOOKS)) notebooks"

## make full: every chapter in the full profile (the headline numbers); writes data/results/full/
full: data check-sync
	@mkdir -p _build/full; for nb in $(NOTEBOOKS); do \
	  echo "full run of $$nb"; \
	  $(BIN)/papermill -k python3 --cwd notebooks "$$nb" "_build/full/$$(basename $$nb)" -p profile full || exit 1; \
	done

## make reproduce [CHAPTER=04] [PROFILE=full]: execute the chapters into _build/reproduce, compare every
## number with the committed records (tolerances: data/results/tolerances.toml), print the verdict,
## write data/results/<profile>/reproduction/<chapter>.json; exits non-zero on a failure
CHAPTER ?=
PROFILE ?= full
reproduce: data check-sync
	$(BIN)/python scripts/reproduce.py --profile $(PROFILE) $(if $(CHAPTER),--chapter $(CHAPTER))

## make seeds: chapters 4, 5 and 9 in the quick profile with seeds 1 and 2 (training noise); writes
## data/results/quick/seeds/; per seed on 2 CPU cores about 10 (chapter 4), 15 (chapter 5) and 17
## (chapter 9) minutes on an avx2 processor, chapter 5 in 8 minutes on an avx512 one
SEED_NOTEBOOKS = notebooks/04_gan_features.ipynb notebooks/05_afa_svr.ipynb notebooks/09_gan_descriptors.ipynb
seeds: data check-sync
	@mkdir -p _build/seeds; for nb in $(SEED_NOTEBOOKS); do for s in 1 2; do \
	  echo "seed $$s of $$nb"; \
	  $(BIN)/papermill -k python3 --cwd notebooks "$$nb" "_build/seeds/$$(basename $$nb .ipynb)-seed$$s.ipynb" -p seed $$s || exit 1; \
	done; done

## make ablations: chapter 5's cleaner ablations (adversarial weight 0/1/10/100, L1 only, no feature
## term) in the quick profile; writes data/results/quick/05_afa_svr_ablations.json (and refreshes the
## chapter's quick record); about 10 minutes on 2 CPU cores
ablations: data check-sync
	@mkdir -p _build/studies; $(BIN)/papermill -k python3 --cwd notebooks \
	  notebooks/05_afa_svr.ipynb _build/studies/05_afa_svr-ablations.ipynb -p ablations True

## make mutate: mutation testing of metrics, exact ranking, losses, data checks, image conversions
## and training steps (pyproject's [tool.mutmut]); not part of `make test` (over an hour on 2 cores:
## mutants of the ranker that loop time out)
mutate: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run || true
	$(BIN)/mutmut results

bench: data
	@for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

clean:
	rm -rf _build
