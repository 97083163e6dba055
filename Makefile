# The two commands: `make run` (everything on a fresh machine, demo data included) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# loopback only unless told otherwise: `make run HOST=0.0.0.0` serves the network
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo lint bench clean worker beat

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

run: demo
	@echo ""
	@echo "  双通道药品管理平台 is starting at http://$(HOST):$(PORT)/ (the demo logins are listed above)"
	@echo "  API docs: http://$(HOST):$(PORT)/api/docs/"
	@echo "  Patient lookup (no login): http://$(HOST):$(PORT)/applications/lookup/"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

# The suite runs on both cores (pytest-xdist); PYTEST_ARGS="" runs it in one process.
PYTEST_ARGS ?= -n 2

test: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: install
	$(PY) -m benchmarks $(BENCH_ARGS)

worker: install
	$(VENV)/bin/celery -A config worker -l info

beat: install
	$(VENV)/bin/celery -A config beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .test-media
