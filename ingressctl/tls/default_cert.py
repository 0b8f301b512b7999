"""The generated default certificate, made in a short-lived child process when this one can avoid
loading cryptography.

cryptography's native library costs a process about 9 MB of resident memory once imported, and it
cannot be unloaded. `serve` with no TLS Secret, certificate file or client-certificate route (only
the default certificate, as in the benchmark and in HTTP-only or TLS-passthrough setups) needs it
for nothing else, so a child process generates and parses the pair (the same `selfsigned` and
`pem.parse_pair` code) and hands back the parsed result. A process that has cryptography loaded
already generates in-process, and so does one whose child fails for any reason: the default
certificate is never missing, whichever way it was made.
"""

from __future__ import annotations

import datetime
import json
import logging
import subprocess
import sys

from ingressctl.tls.pem import ParsedCertificate, parse_pair

log = logging.getLogger("ingressctl.tls")

CHILD_TIMEOUT = 60.0  # generous: a P-256 key and one signature take milliseconds, start-up the rest


def generated_default_certificate(now: datetime.datetime) -> ParsedCertificate:
    """A fresh default certificate valid from `now`, parsed as every other certificate is."""
    if "cryptography" in sys.modules:
        return _generate(now)
    command = [sys.executable, "-m", "ingressctl.tls.default_cert", now.isoformat()]
    try:
        child = subprocess.run(command, capture_output=True, timeout=CHILD_TIMEOUT, check=True)
        return decode(child.stdout)
    except (OSError, subprocess.SubprocessError, ValueError, KeyError, TypeError) as exc:
        log.debug("default certificate: the child process failed (%s); generating it in-process", exc)
        return _generate(now)


def _generate(now: datetime.datetime) -> ParsedCertificate:
    from ingressctl.tls.selfsigned import generate_default_certificate

    return parse_pair(*generate_default_certificate(now))


def encode(parsed: ParsedCertificate) -> bytes:
    return json.dumps(
        {
            "cert_pem": parsed.cert_pem.decode("ascii"),
            "key_pem": parsed.key_pem.decode("ascii"),
            "names": list(parsed.names),
            "common_name": parsed.common_name,
            "issuer": parsed.issuer,
            "serial": parsed.serial,
            "not_before": parsed.not_before.isoformat(),
            "not_after": parsed.not_after.isoformat(),
            "fingerprint": parsed.fingerprint,
        }
    ).encode("ascii")


def decode(data: bytes) -> ParsedCertificate:
    """The ParsedCertificate `encode` wrote (ValueError, KeyError or TypeError when it is not one)."""
    fields = json.loads(data)
    return ParsedCertificate(
        cert_pem=str(fields["cert_pem"]).encode("ascii"),
        key_pem=str(fields["key_pem"]).encode("ascii"),
        names=tuple(str(name) for name in fields["names"]),
        common_name=str(fields["common_name"]),
        issuer=str(fields["issuer"]),
        serial=str(fields["serial"]),
        not_before=datetime.datetime.fromisoformat(fields["not_before"]),
        not_after=datetime.datetime.fromisoformat(fields["not_after"]),
        fingerprint=str(fields["fingerprint"]),
    )


if __name__ == "__main__":
    sys.stdout.buffer.write(encode(_generate(datetime.datetime.fromisoformat(sys.argv[1]))))
