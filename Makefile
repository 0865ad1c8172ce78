# Two commands set up a fresh machine (see README.md):
#   make demo   build the demo city of Jiaxing, ingest it into the embedded SQLite store, open the app
#   make test   run the test suite
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gridwatch demo
	@if [ -f app.py ]; then $(VENV)/bin/streamlit run app.py; fi

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check gridwatch tests benchmarks
	$(VENV)/bin/mypy

clean-demo:
	rm -rf data/demo/generated data/gridwatch.sqlite data/gridwatch.sqlite-* data/gridwatch.sqlite.columns
