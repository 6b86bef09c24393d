# LiveDesk Contacts Admin. `make run` starts the demo, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
PORT ?= 8000
SANDBOX_PORT ?= 8765
SEED ?= 300

.PHONY: run test lint format sandbox worker sync push-pending bench-sync bench-admin bench-faults bench-concurrency bench-push bench-audit bench-batch bench-batch-delivery bench-weight messages clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.txt
	$(PIP) install -r requirements-test.txt
	touch $@

run: $(VENV)/.runtime
	PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) SEED=$(SEED) scripts/run.sh

test: $(VENV)/.test
	scripts/ensure-chromium.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest

lint: $(VENV)/.test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

sandbox: $(VENV)/.runtime
	$(PY) manage.py livedesk_sandbox --port $(SANDBOX_PORT) --seed $(SEED)

worker: $(VENV)/.runtime
	$(PY) manage.py db_worker

sync: $(VENV)/.runtime
	$(PY) manage.py sync_contacts

push-pending: $(VENV)/.runtime
	$(PY) manage.py push_pending

bench-sync: $(VENV)/.runtime
	$(PY) scripts/bench_sync.py

# The contact list pages at 10k, 100k and 1M contacts beside a default ModelAdmin, and the
# search and filters of #12 beside it and beside the prefix search before them: SQLite, then
# PostgreSQL when one answers (about 20 minutes; `$(PY) scripts/bench_admin.py --sizes 100000`
# for a quick run).
bench-admin: $(VENV)/.test
	$(PY) scripts/bench_admin.py --postgres "$(BENCH_DATABASE_URL)"

bench-faults: $(VENV)/.runtime
	$(PY) scripts/bench_faults.py

# A push beside the bare HTTP calls, on SQLite then on PostgreSQL when one answers on
# 127.0.0.1:5432 (BENCH_DATABASE_URL names another server).
bench-push: $(VENV)/.runtime
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) scripts/bench_push.py

# The audit log at 1,000,000 events: verify beside a bare script, recording beside today's push,
# the history pages before and after; SQLite, then PostgreSQL when one answers (as bench-push).
bench-audit: $(VENV)/.runtime
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) scripts/bench_audit.py

# Recording a 10,000-contact batch beside a bare bulk insert of the same edits, and its memory at
# 1,000 and 10,000 contacts: SQLite, then PostgreSQL when one answers on 127.0.0.1:5432.
bench-batch: $(VENV)/.runtime
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" $(PY) scripts/bench_batch.py

# A batch's delivery against the sandbox: the calls a second LiveDesk saw beside the configured
# rate, and what a 429 with Retry-After cost; SQLite then PostgreSQL.
bench-batch-delivery: $(VENV)/.runtime
	$(PY) scripts/bench_batch_delivery.py

# Bytes of the agent pages: HTML and the static files each makes a browser fetch, raw and gzip.
bench-weight: $(VENV)/.runtime
	$(PY) scripts/page_weight.py

# 20 agents over HTTP on SQLite, then on PostgreSQL when one answers on 127.0.0.1:5432
# (BENCH_DATABASE_URL names another server).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
bench-concurrency: $(VENV)/.runtime
	$(PY) scripts/bench_concurrency.py
	if pg_isready -q -d "$(BENCH_DATABASE_URL)" 2>/dev/null; then \
		$(PY) scripts/bench_concurrency.py --database-url "$(BENCH_DATABASE_URL)"; \
	else echo "PostgreSQL not reachable: SQLite only"; fi

messages: $(VENV)/.runtime
	$(PY) manage.py makemessages -l th --no-obsolete --ignore=.venv --ignore=var --ignore=staticfiles --ignore=node_modules
	$(PY) manage.py compilemessages -l th --ignore=.venv --ignore=var --ignore=node_modules

clean:
	rm -rf $(VENV) var
