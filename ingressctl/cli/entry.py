"""The process entry point (console script and `python -m ingressctl`).

`serve` is a long-running process whose memory matters (it runs in every ingress pod): it starts
without Typer, which would load every command group and Typer's pydantic adapter for nothing.
Everything else, and `serve --help`, goes through the Typer app.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["serve"]:
        from ingressctl.cli.serve_cmd import main_fast

        code = main_fast(argv[1:])
        if code is not None:
            sys.exit(code)
    from ingressctl.cli.app import main as app_main

    app_main()
