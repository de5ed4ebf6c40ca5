# One way to do each thing; .ci/run calls `make test` as the README says.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test test-redis lint bench system-deps

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: $(STAMP)
	$(BIN)/visitor-stats serve

system-deps:
	scripts/system-deps

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) system-deps lint
	$(BIN)/pytest

# The same suite against Debian's redis-server 7 instead of the embedded Valkey (CI runs both).
test-redis: $(STAMP) system-deps
	scripts/with-redis $(BIN)/pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.aggregate
	$(BIN)/python -m bench.hits
	$(BIN)/python -m bench.shard
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.online
