"""`validate --from ingress-nginx` and `migrate --from ingress-nginx` on the examples taken from
ingress-nginx's documentation (examples/ingress-nginx), through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from tests.cli.conftest import Run, assert_no_traceback

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ingress-nginx"
NGINX = "nginx.ingress.kubernetes.io/"


def test_validate_from_ingress_nginx_reports_each_annotation(run: Run) -> None:
    result = run("validate", "--from", "ingress-nginx", str(EXAMPLES), "--format", "json")
    assert_no_traceback(result)
    assert result.returncode == 1  # the snippet is refused: its routes answer 503
    report = json.loads(result.stdout)
    by_ingress = {i["ingress"]: i for i in report["ingresses"]}
    assert all(i["served"] for i in by_ingress.values())  # takeover: class nginx is served
    statuses = {
        (name, a["key"].removeprefix(NGINX)): a["status"]
        for name, i in by_ingress.items()
        for a in i["annotations"]
    }
    assert statuses[("Ingress default/rewrite", "rewrite-target")] == "changes"
    assert statuses[("Ingress default/nginx-configuration-snippet", "configuration-snippet")] == "refused"
    # auth-url is implemented (forward auth): the registry reads the code, so it says so
    assert statuses[("Ingress default/external-auth", "auth-url")] == "supported"
    snippet = next(
        a
        for a in by_ingress["Ingress default/nginx-configuration-snippet"]["annotations"]
        if a["key"].endswith("configuration-snippet")
    )
    assert "sets response headers" in snippet["detail"] and snippet["line"] == 9
    assert report["summary"][NGINX + "rewrite-target"] == {"changes": 2}
    assert report["totals"]["refused"] == 1
    text = run("validate", "--from", "ingress-nginx", str(EXAMPLES))
    assert text.returncode == 1
    assert "REFUSED      configuration-snippet" in text.stdout and "Summary" in text.stdout


def test_migrate_from_ingress_nginx_keeps_comments_and_marks_decisions(run: Run, tmp_path: Path) -> None:
    for name in ("affinity-cookie.yaml", "configuration-snippet.yaml", "rewrite.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    result = run("migrate", "--from", "ingress-nginx", "--in-place", str(tmp_path))
    assert_no_traceback(result)
    assert result.returncode == 0, result.stderr
    sticky = (tmp_path / "affinity-cookie.yaml").read_text()
    assert sticky.startswith(
        "# From ingress-nginx docs/examples/affinity/cookie/ingress.yaml"
    )  # comments kept
    assert "ingressClassName: ingressctl" in sticky
    # Sticky cookies are served by ingressctl: the annotations carry over without a decision to make.
    assert '    nginx.ingress.kubernetes.io/affinity: "cookie"\n' in sticky
    assert "# ingressctl:" not in sticky
    snippet = (tmp_path / "configuration-snippet.yaml").read_text()
    assert "# ingressctl: nginx.ingress.kubernetes.io/configuration-snippet: REFUSED" in snippet
    document = YAML(typ="safe").load(snippet)
    assert document["metadata"]["annotations"][NGINX + "configuration-snippet"] == (
        'more_set_headers "Request-Id: $req_id";\n'
    )
    keys = list(YAML(typ="safe").load(sticky)["metadata"]["annotations"])
    assert keys == [
        NGINX + k
        for k in ("affinity", "session-cookie-name", "session-cookie-expires", "session-cookie-max-age")
    ]
    # Run twice: nothing more to do.
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    again = run("migrate", "--from", "ingress-nginx", "--in-place", str(tmp_path))
    assert again.returncode == 0
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before
    # The migrated files validate for ingressctl's own class: the rewrite route is served.
    routes = run("routes", str(tmp_path), "--explain", "http://rewrite.bar.com/something/new")
    assert "goes upstream as /new" in routes.stdout, routes.stdout
