# The one place commands are spelled. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
# Development mode, asked for explicitly (README "Settings"): without DEBUG=1 the
# settings refuse to load with the built-in secrets and the sandbox bank.
DEV    := DEBUG=1

.PHONY: run test test-quick api-fuzz money-machine lint format install migrate seed worker beat stack cluster bench bench-quick messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed

migrate: install
	$(DEV) $(BIN)/python manage.py migrate --noinput

seed: migrate
	$(DEV) $(BIN)/python manage.py seed_demo

## Set up and start the app on http://$(HOST):$(PORT) (embedded default unless DATABASE_URL/REDIS_URL are set).
run: seed
	$(DEV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

## The whole test suite (services it finds through DATABASE_URL / REDIS_URL; the rest skipped with reasons).
test: install
	$(DEV) $(BIN)/python -m pytest -m "not fuzz" $(PYTEST_ARGS)

## A short run: everything but the slow stress and fault tests. Keeps a PostgreSQL test
## database between runs (--reuse-db; add PYTEST_ARGS=--create-db after a new migration).
test-quick: install
	$(DEV) $(BIN)/python -m pytest -m "not slow and not fuzz" --reuse-db $(PYTEST_ARGS)

## The API against its OpenAPI schema with schemathesis (a few minutes; API_FUZZ_EXAMPLES).
api-fuzz: install
	$(DEV) $(BIN)/python -m pytest -m fuzz tests/test_api_schema.py $(PYTEST_ARGS)

## The stateful money property test, long: 50,000 steps on PostgreSQL + Redis (DATABASE_URL, REDIS_URL).
money-machine: install
	$(DEV) MONEY_MACHINE_STEPS=$${MONEY_MACHINE_STEPS:-50000} $(BIN)/python -m pytest -p no:cacheprovider --timeout=0 -s tests/test_money_machine.py $(PYTEST_ARGS)

## ruff, the import layers of README "Layout" (import-linter, contracts in pyproject.toml),
## mypy ([tool.mypy]; its django-stubs plugin loads the settings, hence DEBUG=1) and djLint
## on the templates. `.venv/bin/pre-commit install` runs the fast ones before commits.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(DEV) $(BIN)/mypy
	$(BIN)/djlint templates --lint

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

worker: install
	$(BIN)/celery -A redpacket worker --loglevel=info

beat: install
	$(BIN)/celery -A redpacket beat --loglevel=info

## The deployed topology in the foreground: nginx → granian (/, /api/; STACK_WSGI=gunicorn) + daphne (/ws/),
## a celery worker and beat, against DATABASE_URL / REDIS_URL. Ctrl-C stops all of it.
stack: install
	$(BIN)/python -m deploy.stack --host $(HOST) --port $(PORT)

## The multi-node topology in the foreground (deploy/cluster.py): a 3-master Redis Cluster,
## two channel-layer Redis, pgbouncer and a streaming replica of DATABASE_URL's server, two
## web nodes and two daphnes behind nginx on HOST:PORT, two workers and beat. Ctrl-C stops it.
cluster: install
	$(BIN)/python -m deploy.cluster --host $(HOST) --port $(PORT)

## The benchmark of that stack on its own database and Redis db (docs/performance.md);
## BENCH_ARGS=--cluster runs it against `make cluster`'s topology (docs/capacity.md).
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

## A small run of every scenario for CI (< 2 minutes; asserts no timing).
bench-quick: install
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

messages: install
	$(DEV) $(BIN)/python manage.py makemessages -l en --ignore '$(VENV)/*'
	$(DEV) $(BIN)/python manage.py makemessages -d djangojs -l en --ignore '$(VENV)/*' --ignore 'staticfiles/*'
	$(DEV) $(BIN)/python manage.py compilemessages --ignore '$(VENV)/*'

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles artifacts .pytest_cache
