#!/usr/bin/env bash
# Install the oldest versions pyproject.toml allows for every direct dependency (uv's
# --resolution lowest-direct) into a separate venv, then run a fast subset of the tests against
# them, so the lower bounds stay true. Test tools are resolved normally, constrained to the floors.
#
#   packaging/test-floors.sh [PYTEST ARGS...]     default: the FLOOR_TESTS subset below
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FLOORS_VENV:-.venv-floors}"
# Wherever a dependency is used: the CLI (typer, rich), manifests (pyyaml, ruamel.yaml), the config
# (tomlkit), serve and the proxy (aiohttp, uvloop, h2, brotli, google-re2), the cluster provider (kubernetes, urllib3) and
# ACME against Pebble (acme, josepy, requests, cryptography), the API (prometheus-client, bcrypt).
FLOOR_TESTS=(
  tests/cli/test_validate_cli.py tests/cli/test_usage_errors.py
  tests/config/test_full_file.py tests/config/test_errors.py tests/manifests/test_migrate_cli.py
  tests/serve/test_shutdown.py tests/serve/test_malformed_requests.py tests/serve/test_proxy_protocol.py
  tests/proxy/test_forwarding.py tests/http2/test_defences.py tests/proxy/test_compress.py
  tests/routing/test_userregex.py tests/routing/test_nginx_regex.py
  tests/kubernetes/test_watch.py tests/kubernetes/test_status.py
  tests/acme/test_issuance.py tests/api/test_metrics.py tests/api/test_exposure_and_auth.py
)

export UV_SYSTEM_CERTS=1 UV_NO_PROGRESS=1
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q uv
uv=("$venv/bin/uv" pip)
py=(--python "$venv/bin/python")
"${uv[@]}" install -q "${py[@]}" --resolution lowest-direct -e .
"${uv[@]}" freeze "${py[@]}" | grep -v '^-e ' >"$venv/floors.txt"
"${uv[@]}" install -q "${py[@]}" -c "$venv/floors.txt" \
  pytest pytest-xdist pytest-timeout pytest-aiohttp hypothesis
"$venv/bin/python" - <<'PY'
import re, tomllib
from importlib.metadata import version
from packaging.version import Version
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
at, above = [], []
for dep in deps:
    name, floor = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,; ]*)", dep).groups()
    installed = version(name)
    (at if Version(installed) == Version(floor) else above).append(f"{name} {installed}")
print("direct dependencies at their floor:", ", ".join(at))
if above:
    # A newer transitive dependency can force a direct one above its floor (pyOpenSSL and
    # cryptography): that floor is then not what these tests ran with.
    print("above their floor (forced by other requirements):", ", ".join(above))
PY
if [ $# -eq 0 ]; then set -- "${FLOOR_TESTS[@]}"; fi
"$venv/bin/python" -m pytest -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" -q "$@"
