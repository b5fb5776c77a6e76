# helpline: `make run` starts the demo desk, `make test` runs the suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-postgres bench bench-quick chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/helpline run $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The storage-touching tests again, on PostgreSQL (set HELPLINE_TEST_DATABASE_URL to override).
test-postgres: $(STAMP)
	HELPLINE_TEST_DATABASE_URL=$${HELPLINE_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest -m storage $(PYTEST_ARGS)

# django-helpdesk, the peer the new-tickets figure is measured against, in its own venv (not ours).
PEER_VENV := bench/.peer-venv
$(PEER_VENV)/.installed:
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/python -m pip install --quiet django-helpdesk gunicorn
	touch $@

bench: $(STAMP) $(PEER_VENV)/.installed
	$(BIN)/python -m bench $(ARGS)

bench-quick: $(STAMP) $(PEER_VENV)/.installed
	$(BIN)/python -m bench --quick $(ARGS)

# kill -9 the desk 20 times under traffic, on SQLite then PostgreSQL (a private <name>_chaos database
# is created and dropped); writes bench/chaos.json and fails on any loss or duplicate.
CHAOS_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --kills $${CHAOS_KILLS:-20} --database-url $(CHAOS_DATABASE_URL) $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
