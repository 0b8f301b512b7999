"""The process entry point (console script and `python -m ingressctl`).

`serve` is a long-running process whose memory matters (it runs in every ingress pod): it starts
without Typer, which would load every command group and Typer's pydantic adapter for nothing.
Everything else, and `serve --help`, goes through the Typer app.
"""

from __future__ import annotations

import gc
import sys

# Commands that read their input, answer and exit. They build large acyclic object graphs (every
# manifest node), which the cyclic garbage collector would re-walk over and over for nothing:
# switching it off makes `validate` on 30,000 objects about 40 % faster. Long-running commands
# (serve, routes --watch) keep it.
_ONE_SHOT = {"validate", "migrate", "routes"}


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] and argv[0] in _ONE_SHOT and "--watch" not in argv:
        gc.disable()
    if argv[:1] == ["validate"]:
        # Typer, Rich and the other commands stay unloaded: CI runs validate many times.
        from ingressctl.cli.validate_cmd import main_fast as validate_fast

        code = validate_fast(argv[1:])
        if code is not None:
            from ingressctl.cli.quick_exit import leave

            leave(code)
    if argv[:1] == ["serve"]:
        from ingressctl.cli.serve_cmd import main_fast

        code = main_fast(argv[1:])
        if code is not None:
            sys.exit(code)
    from ingressctl.cli.app import main as app_main

    app_main()
