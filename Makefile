# The service and its tests. `make run` serves on http://127.0.0.1:8000/ with
# nothing but Python 3.11 installed; `make test` runs the whole suite.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-browser chromium lint check-migrations ci install constraints clean

# constraints.txt pins every version, as the image does (deploy/Dockerfile).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --constraint constraints.txt
	@touch $(STAMP)

install: $(STAMP)

# A demo: plain-text logs (the access log too), two web workers, one Celery
# worker process (threads).
ACCESS_LOG_FORMAT = %(h)s %(m)s %(U)s %(s)s %(B)s bytes %(M)s ms [%({x-request-id}o)s]
RUN_ENV = DEBUG=$${DEBUG-1} LOG_FORMAT=$${LOG_FORMAT-plain} WEB_CONCURRENCY=$${WEB_CONCURRENCY-2} \
	GUNICORN_CMD_ARGS="--access-logformat '$(ACCESS_LOG_FORMAT)'"

run: $(STAMP)
	@mkdir -p var
	@$(RUN_ENV) $(BIN)/python manage.py migrate --no-input
	@$(RUN_ENV) $(BIN)/python manage.py load_demo
	@$(RUN_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	@$(RUN_ENV) $(BIN)/python manage.py ensure_admin
	@echo "Serving http://$${WEB_BIND:-127.0.0.1:8000}/api/ and http://$${WEB_BIND:-127.0.0.1:8000}/admin/ (Ctrl-C stops)"
	@$(RUN_ENV) PATH=$(abspath $(BIN)):$$PATH exec $(BIN)/honcho start -f Procfile

test: $(STAMP) chromium
	$(BIN)/python -m tests.services $(PYTEST_ARGS)

# The admin's pages in Chromium only (tests marked `browser`); a failing page is
# saved under var/screenshots/, and BROWSER_SCREENSHOTS=<folder> saves every step.
test-browser: $(STAMP) chromium
	$(BIN)/python -m tests.services -m browser $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright's own download is not used).
chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) || \
		echo "Chromium could not be installed (apt-get install -y chromium): the browser tests will fail."

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

check-migrations: $(STAMP)
	DEBUG=1 DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run

# After changing pyproject.toml's ranges or upgrading the venv, and a green suite.
constraints:
	$(BIN)/python deploy/constraints.py

clean:
	rm -rf var $(VENV)
