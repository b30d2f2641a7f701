# The two commands: `make run` (the bot on the local sandbox) and `make test` (everything CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Two test workers per core: most of a test's time is spent waiting on HTTP, Redis and the bot's jobs, not the CPU.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

.PHONY: run test lint bench manifest clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python app.py

test: $(STAMP)
	scripts/install-test-deps
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

bench: $(STAMP)
	$(BIN)/python bench/click_latency.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/storm.py
	$(BIN)/python bench/recovery.py
	$(BIN)/python bench/cards.py
	$(BIN)/python bench/records.py

manifest: $(STAMP)
	$(BIN)/python manifest/build.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
