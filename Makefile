# `make demo` and `make test` are the two commands a new user needs; see README.md.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench deploy sandbox clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt setup.py
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tiktok_scrapy.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

sandbox: $(STAMP)
	$(BIN)/python -m tiktok_scrapy.sandbox --port 8765

# scrapy.cfg's [deploy] target reads SCRAPYD_URL (and SCRAPYD_USERNAME/SCRAPYD_PASSWORD).
deploy: $(STAMP)
	@test -n "$$SCRAPYD_URL" || { echo "error: set SCRAPYD_URL, e.g. export SCRAPYD_URL=http://localhost:6800/ (see docs/deploy.md)" >&2; exit 2; }
	cd $(CURDIR) && $(BIN)/scrapyd-deploy

clean:
	rm -rf build dist *.egg-info .pytest_cache
