"""Basic auth through a real `ingressctl serve`, one Ingress per htpasswd hash type, each Secret made by
Apache's own `htpasswd`: the right password passes, a wrong one (or none) gets 401 for every type, and a
Secret that holds plain-text or crypt(3) passwords never lets anyone in (the route answers 503)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.needs import tool
from tests.serve.backends import Backend
from tests.serve.conftest import ServeProcess
from tests.support.manifests import app_manifest

pytestmark = pytest.mark.timeout(90)

PASSWORD = "s3cret pass"
# Apache htpasswd flags per hash type; plain (-p) and crypt (-d) must never log anyone in.
HASHES = {"apr1": "-m", "bcrypt": "-B", "sha1": "-s", "plain": "-p", "crypt": "-d"}
REFUSED = ("plain", "crypt")


def htpasswd_line(flag: str, user: str, password: str) -> str:
    args = [tool("htpasswd", "apache2-utils"), "-nb", flag, user, password]
    if flag == "-B":
        args[2:2] = ["-C", "4"]  # the cheapest bcrypt cost: the test is about matching, not strength
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def manifests(port: int) -> str:
    docs = []
    for kind, flag in HASHES.items():
        line = htpasswd_line(flag, "alice", PASSWORD)
        docs.append(
            f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {kind}-users, namespace: default}}\n"
            f"data:\n  auth: {base64.b64encode(line.encode()).decode()}\n"
        )
        auth = (
            "    ingress.kubernetes.io/auth-type: basic\n"
            f"    ingress.kubernetes.io/auth-secret: {kind}-users\n"
        )
        docs.append(app_manifest(kind, f"{kind}.test", "/", port, auth))
    return "---\n".join(docs)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_wrong_passwords_are_refused_for_every_hash_type(
    tmp_path: Path, serve: Callable[..., ServeProcess]
) -> None:
    backend = await Backend("127.0.0.1").start()
    (tmp_path / "apps.yaml").write_text(manifests(backend.port))
    sp = serve("--entrypoint", "web=127.0.0.1:0", "--manifests", str(tmp_path))
    try:
        await asyncio.to_thread(sp.wait_ready)
        async with aiohttp.ClientSession() as session:

            async def status(kind: str, headers: dict[str, str]) -> int:
                async with session.get(sp.url("/"), headers={"Host": f"{kind}.test", **headers}) as resp:
                    return resp.status

            for kind, flag in HASHES.items():
                wrong = [
                    {},
                    basic("alice", PASSWORD + "x"),
                    basic("alice", PASSWORD.upper()),
                    basic("alice", ""),
                    basic("mallory", PASSWORD),
                ]
                if kind in REFUSED:
                    # The Secret is refused as a whole: no password passes, not even the stored text.
                    stored = htpasswd_line(flag, "alice", PASSWORD).split(":", 1)[1]
                    for headers in [basic("alice", PASSWORD), basic("alice", stored), *wrong]:
                        assert await status(kind, headers) == 503, kind
                    continue
                for headers in wrong:
                    assert await status(kind, headers) == 401, (kind, headers)
                assert await status(kind, basic("alice", PASSWORD)) == 200, kind
        assert backend.hits == 3  # apr1, bcrypt and SHA1 with the right password, nothing else
        assert "Traceback" not in sp.text
    finally:
        await backend.stop()
