# The two commands of the README's quick start: `make run` and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= dist

.PHONY: run build test lint context clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## run: build the knowledge graph into dist/, print what was written, then serve it
## (site, content negotiation, /sparql) on http://$(HOST):$(PORT)/ until Ctrl-C;
## with JUNO_KG_NO_SERVE=1 it stops after the build
HOST ?= 127.0.0.1
PORT ?= 8000
run: $(BIN)/.installed
	$(BIN)/juno-kg build --out $(OUT)
	@if [ -z "$$JUNO_KG_NO_SERVE" ]; then \
	  $(BIN)/juno-kg serve --dist $(OUT) --host $(HOST) --port $(PORT); fi

build: $(BIN)/.installed
	$(BIN)/juno-kg build --out $(OUT)

## test: the whole test suite (ruff included), one pytest worker per core, each file's
## tests in one worker (they share its fixtures); plain `pytest tests/test_x.py` runs one
test: $(BIN)/.installed
	$(BIN)/ruff check juno_kg tests benchmarks
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check juno_kg tests benchmarks

## context: regenerate the shipped JSON-LD context from the ontology
context: $(BIN)/.installed
	$(BIN)/python -c "from juno_kg.write import write_shipped_context; write_shipped_context()"

clean:
	rm -rf $(OUT) .pytest_cache
