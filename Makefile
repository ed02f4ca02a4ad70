# mammo_nb — every command a user or CI needs. Each target first makes sure .venv is present and current.
SHELL := /bin/bash
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: help demo demo-all references test test-fast test-slow docs preview lab export clean-nbs clean-copies readme lock bench venv distclean page page-retrain claims

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.lock settings.ini setup.py tools/setup_venv.sh
	@tools/setup_venv.sh
	@touch $@

venv: $(STAMP) ## create or refresh the virtual environment

demo: $(STAMP) ## the main job: the shipped reference models checked on a fresh test phantom, a resumed fine-tuning -> runs/demo/report.md
	$(BIN)/mammo-nb demo --steps reference --out runs/demo

demo-all: $(STAMP) ## every demo step: each system trained briefly from scratch on its own phantom -> runs/demo-all/report.md
	$(BIN)/mammo-nb demo --out runs/demo-all

references: $(STAMP) ## rebuild the shipped reference models and their expected results (about an hour on 2 CPU cores)
	$(BIN)/mammo-nb reference build registration lmvnet mammonet malignancy cgan lesion-ldm-ae lesion-ldm momminet --threads 2

test: $(STAMP) ## the whole gate: hygiene, nbdev_test, pytest, docs processing, preview and link check (times each part)
	$(BIN)/python tools/gate.py

test-slow: $(STAMP) ## the long tests: `#| slow` notebook cells and pytest -m slow
	$(BIN)/python tools/gate.py --slow

page: $(STAMP) ## render a tutorial from its kept predictions, no training (e.g. make page PAGE=85b)
	@test -n "$(PAGE)" || { echo "usage: make page PAGE=85b" >&2; exit 2; }
	$(BIN)/python tools/render_nb.py --slow $(wildcard nbs/tutorials/$(PAGE)_*.ipynb)

page-retrain: $(STAMP) ## rebuild a tutorial's kept predictions from its runs (training those not in runs/), then render it
	@test -n "$(PAGE)" || { echo "usage: make page-retrain PAGE=85b" >&2; exit 2; }
	MAMMO_RETRAIN=1 $(BIN)/python tools/render_nb.py --slow $(wildcard nbs/tutorials/$(PAGE)_*.ipynb)

claims: $(STAMP) ## the claims ledger: every paper claim's phantom estimate and verdict, from the kept predictions
	$(BIN)/mammo-nb claims

docs: $(STAMP) ## the docs site into _docs/ (Quarto), or an HTML preview into _preview/ without Quarto
	$(BIN)/python tools/docs.py

clean-copies: $(STAMP) ## every tutorial for a class to fill in: outputs and solutions stripped -> _course/ (generated; e.g. make clean-copies PAGE=85b)
	$(BIN)/python tools/course.py $(PAGE)

lab: $(STAMP) ## JupyterLab on the notebooks
	$(BIN)/jupyter lab nbs/

export: $(STAMP) ## notebooks -> mammo_nb/ and the command index mammo_nb/_cli.json (then commit both)
	$(BIN)/nbdev_export
	$(BIN)/python -c "from mammo_nb.cli import write_index; write_index()"

clean-nbs: $(STAMP) ## strip notebook metadata noise (nbdev_clean)
	$(BIN)/nbdev_clean

readme: $(STAMP) ## regenerate README.md from nbs/index.ipynb
	$(BIN)/python tools/hygiene.py --write-readme

bench: $(STAMP) ## run every benchmark in its quick form
	@for b in $$($(BIN)/python -c "from mammo_nb.cli import load_components; from mammo_nb.core import BENCHMARKS; load_components(); print(' '.join(BENCHMARKS.names()))"); do \
	  echo "== mammo-nb bench $$b --quick"; $(BIN)/mammo-nb bench $$b --quick || exit 1; done

lock: $(STAMP) ## re-pin requirements.lock from the current .venv (after adding a dependency)
	@{ head -3 requirements.lock; $(BIN)/python -m pip freeze --disable-pip-version-check 2>/dev/null | grep -v -E "^(-e |#|mammo[-_]nb|pyradiomics==)"; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock && echo "requirements.lock updated"

distclean: ## remove the environment and every generated folder
	rm -rf $(VENV) _proc _docs _preview _course runs
