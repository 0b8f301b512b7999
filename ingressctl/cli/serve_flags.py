"""The `serve` flags, declared once.

`serve` is parsed two ways: argparse on the lean start path (the container entrypoint, which must not
load Typer) and Typer for `serve --help` and completion. Both parsers are built from FLAGS, so a flag
cannot exist in one and be missing, or differently named, in the other.

Every flag also comes from the environment variable INGRESSCTL_<LONG NAME> (upper case, '-' as '_'),
read when the flag is not on the command line: Click does it for Typer, `environment_values` for
argparse, with Click's rules (repeatable flags split at whitespace; switches 1/true/yes/on or
0/false/no/off).
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ENV_PREFIX = "INGRESSCTL_"

# text: one value (None when absent); count: an integer; many: repeatable (a tuple, empty when
# absent); toggle: --x/--no-x (None when absent, so the config file decides); switch: --x only.
Kind = Literal["text", "count", "many", "toggle", "switch"]
# Flag name -> its value, of that flag's own type (str, int, bool, a tuple of str): ServeOptions(**values)
# checks each against its field, which one value type for the whole mapping could not express.
FlagValues = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Flag:
    field: str  # the ServeOptions field it fills
    names: tuple[str, ...]  # the long name first
    help: str
    kind: Kind = "text"
    metavar: str | None = None

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.names[0].removeprefix("--").upper().replace("-", "_")


FLAGS: tuple[Flag, ...] = (
    Flag(
        "config",
        ("--config", "-c"),
        "traefik.toml (Traefik v1 subset), read at start (SIGHUP re-reads the manifests, not this file).",
    ),
    Flag(
        "manifests",
        ("--manifests", "-m"),
        "File or directory of manifests to serve (repeatable; watched).",
        "many",
    ),
    Flag(
        "entrypoints",
        ("--entrypoint",),
        "An entrypoint (repeatable), e.g. web=:8000, websecure=:8443,tls or web=:8000,redirect=websecure; "
        "proxy-protocol=10.0.0.0/8;192.168.1.5 requires a PROXY header (v1 or v2) from those peers; "
        "h2c serves HTTP/2 with prior knowledge on a plain one, no-h2 stops offering h2 on a TLS one. "
        ":PORT listens on IPv6 and IPv4, 0.0.0.0:PORT on IPv4 only. One of that name in --config takes "
        "what the flag says and keeps the rest (a TLS one needs ,tls). Without [entryPoints] in the "
        "file, replaces the default http=:80 and https=:443.",
        "many",
        # The options are listed in the help text: the whole syntax is wider than 80 columns.
        "NAME=ADDR[,OPTION]...",
    ),
    Flag(
        "default_certificate",
        ("--default-certificate",),
        "PEM certificate and key files served to TLS clients whose name matches no other certificate "
        "(default: a generated self-signed one).",
        metavar="CERT,KEY",
    ),
    Flag("api_address", ("--api-address",), "Address of the API/dashboard."),
    Flag("api_insecure", ("--api-insecure",), "Serve the API/dashboard without authentication.", "toggle"),
    Flag(
        "ping_address",
        ("--ping-address",),
        "Serve /ping (liveness) and /ready (readiness) here, unauthenticated and nothing else, for "
        "kubelet probes while the API stays on loopback or behind auth ([ping] address).",
        metavar="ADDR",
    ),
    Flag(
        "check",
        ("--check",),
        "Load the configuration, the manifests and/or one list of the cluster, compile, print the routes "
        "and every problem, and exit (0 clean, 1 errors, 2 unusable configuration) without listening.",
        "switch",
    ),
    Flag("workers", ("--workers",), "Processes sharing the ports (default 1).", "count"),
    Flag("log_level", ("--log-level",), "debug, info, warning, error."),
    Flag("log_format", ("--log-format",), "text or json."),
    Flag("access_log", ("--access-log",), "Log every request.", "toggle"),
    Flag("access_log_format", ("--access-log-format",), "common or json (implies --access-log)."),
    Flag("ingress_class", ("--ingress-class",), "Ingress class to serve."),
    Flag(
        "controller_name",
        ("--controller-name", "--controller-class"),
        "IngressClass spec.controller we claim (k8s.io/ingress-nginx takes over from ingress-nginx, with "
        "--ingress-class nginx; --controller-class is ingress-nginx's name for the flag).",
    ),
    Flag(
        "watch_ingress_without_class",
        ("--watch-ingress-without-class",),
        "true or false: serve Ingresses without any class, as ingress-nginx's flag (default true; false "
        "with --controller-name k8s.io/ingress-nginx, ingress-nginx's default).",
        metavar="BOOL",
    ),
    Flag(
        "ignore_snippets",
        ("--ignore-snippets",),
        "Serve routes carrying nginx snippets (configuration-snippet, server-snippet, ...) without them "
        "instead of answering 503; snippets are never executed either way.",
        "switch",
    ),
    Flag(
        "gateway",
        ("--gateway",),
        "Serve the Gateway API: GatewayClasses of --gateway-controller-name, their Gateways and HTTPRoutes "
        "(from the cluster, and from --manifests files).",
        "switch",
    ),
    Flag(
        "gateway_controller_name",
        ("--gateway-controller-name",),
        "GatewayClass spec.controllerName we claim (default ingressctl.io/gateway-controller; implies "
        "--gateway).",
    ),
    Flag(
        "gateway_class",
        ("--gateway-class",),
        "Serve only the GatewayClass of this name (implies --gateway).",
        metavar="NAME",
    ),
    Flag(
        "gateway_mirror_body_limit",
        ("--gateway-mirror-body-limit",),
        "HTTPRoute RequestMirror copies request bodies up to this many bytes (default 262144); a request "
        "with a larger body is not mirrored (never sent truncated).",
        "count",
        "BYTES",
    ),
    Flag(
        "allow_external_name_services",
        ("--allow-external-name-services",),
        "Proxy to ExternalName Services (off: an Ingress author could point us at any host).",
        "toggle",
    ),
    Flag(
        "kubernetes",
        ("--kubernetes",),
        "Read Ingresses from the cluster (in-cluster, --kubeconfig, or [kubernetes] endpoint).",
        "switch",
    ),
    Flag("kubeconfig", ("--kubeconfig",), "kubeconfig to use (implies --kubernetes).", metavar="FILE"),
    Flag("context", ("--context",), "kubeconfig context.", metavar="NAME"),
    Flag(
        "namespaces", ("--namespace", "-n"), "Only this namespace (repeatable; default: all).", "many", "NS"
    ),
    Flag(
        "label_selector",
        ("--label-selector", "-l"),
        "Only Ingresses matching this label selector.",
        metavar="SEL",
    ),
    Flag(
        "publish_service",
        ("--publish-service",),
        "Write this Service's address into the status of the Ingresses we serve.",
        metavar="NS/NAME",
    ),
    Flag(
        "publish_address",
        ("--publish-address",),
        "Write these IPs/host names into the status of the Ingresses we serve.",
        metavar="ADDR[,ADDR]",
    ),
    Flag(
        "leader_election",
        ("--leader-election",),
        "Elect one leader among replicas with a Lease (default on with --kubernetes; "
        "off: this process always leads).",
        "toggle",
    ),
    Flag(
        "leader_election_namespace",
        ("--leader-election-namespace",),
        "Namespace of the leader Lease.",
        metavar="NS",
    ),
    Flag(
        "leader_election_id",
        ("--leader-election-id",),
        "Name of the leader Lease (ingressctl-leader).",
        metavar="NAME",
    ),
    Flag(
        "leader_election_lease_duration",
        ("--leader-election-lease-duration",),
        "Lease duration (default 15; renew deadline 2/3 of it, retry 2/15).",
        "count",
        "SECONDS",
    ),
    Flag(
        "acme_storage",
        ("--acme-storage",),
        "Where ACME keeps the account and certificates (a Secret: shared by replicas).",
        metavar="FILE|secret:NS/NAME",
    ),
)


def parsed_values(values: Mapping[str, object]) -> FlagValues:
    """What either parser produced, as ServeOptions keyword arguments (repeatable flags as tuples)."""
    out: FlagValues = dict(values)
    for flag in FLAGS:
        if flag.kind == "many":
            out[flag.field] = tuple(out[flag.field] or ())
    return out


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class EnvironmentValueError(ValueError):
    """An environment variable whose value its flag cannot take (the message names both)."""


def environment_values(values: Mapping[str, object], environ: Mapping[str, str]) -> FlagValues:
    """argparse's `values` with every flag that was not given taken from its environment variable."""
    out = dict(values)
    for flag in FLAGS:
        raw = environ.get(flag.envvar)
        # As Click: an empty variable is no value (so `VAR=` in a manifest unsets nothing by accident).
        if not raw or out.get(flag.field) not in (None, [], (), False):
            continue
        out[flag.field] = _from_environment(flag, raw)
    return out


def _from_environment(flag: Flag, raw: str) -> str | int | bool | list[str]:
    where = f"{flag.envvar}={raw!r} (for {flag.names[0]})"
    if flag.kind == "many":
        return raw.split()
    if flag.kind in ("toggle", "switch"):
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise EnvironmentValueError(f"{where}: use 1, true, yes or on; 0, false, no or off")
    if flag.kind == "count":
        try:
            return int(raw.strip())
        except ValueError:
            raise EnvironmentValueError(f"{where}: not a whole number") from None
    return raw


def argument_parser() -> argparse.ArgumentParser:
    """The argparse parser of the lean start path (no help: `serve --help` is Typer's)."""
    parser = argparse.ArgumentParser(prog="ingressctl serve", add_help=False, allow_abbrev=False)
    for flag in FLAGS:
        if flag.kind == "many":
            parser.add_argument(*flag.names, dest=flag.field, action="append", default=[])
        elif flag.kind == "toggle":
            parser.add_argument(
                *flag.names, dest=flag.field, action=argparse.BooleanOptionalAction, default=None
            )
        elif flag.kind == "switch":
            parser.add_argument(*flag.names, dest=flag.field, action="store_true", default=False)
        else:
            parser.add_argument(*flag.names, dest=flag.field, type=int if flag.kind == "count" else str)
    return parser


def typer_command(run: Callable[[FlagValues], None]) -> Callable[..., None]:
    """A function whose signature Typer reads as the same flags; it calls run(values)."""
    import typer

    def command(**values: object) -> None:
        run(values)

    parameters = []
    for flag in FLAGS:
        long_name, *short_names = flag.names
        help_text = flag.help  # plain help (the app's rich_markup_mode is None): no markup to escape
        if flag.kind == "toggle":
            default: object = typer.Option(
                None,
                f"{long_name}/--no-{long_name[2:]}",
                *short_names,
                help=help_text,
                envvar=flag.envvar,
                show_envvar=True,
            )
            annotation: object = bool | None
        elif flag.kind == "switch":
            default = typer.Option(False, *flag.names, help=help_text, envvar=flag.envvar, show_envvar=True)
            annotation = bool
        elif flag.kind == "many":
            default = typer.Option(
                [], *flag.names, help=help_text, metavar=flag.metavar, envvar=flag.envvar, show_envvar=True
            )
            annotation = list[str]
        else:
            default = typer.Option(
                None, *flag.names, help=help_text, metavar=flag.metavar, envvar=flag.envvar, show_envvar=True
            )
            annotation = (int if flag.kind == "count" else str) | None
        parameters.append(
            inspect.Parameter(
                flag.field, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return command
