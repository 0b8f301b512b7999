"""`make bench`: every benchmark, printed as Markdown tables with ratios against peers.

`python -m benchmarks [compile] [gateway] [startup] [kube] [serve] [regex] [acme] [middleware] [proxy] [h2]`
runs a subset; no argument runs all.
"""

from __future__ import annotations

import importlib
import sys

# name → module with run() and render(rows); in the order they run (the proxy comparison last:
# it is the longest and wants the machine to itself).
SUITES = {
    "compile": "benchmarks.compile_bench",
    "gateway": "benchmarks.gateway_compile",
    "startup": "benchmarks.validate_startup",
    "kube": "benchmarks.kube_propagation",
    "serve": "benchmarks.serve_propagation",
    "compile_swap": "benchmarks.compile_swap",
    "regex": "benchmarks.regex_paths",
    "acme": "benchmarks.acme_latency",
    "middleware": "benchmarks.middleware_chain",
    "proxy": "benchmarks.proxy_bench",
    "h2": "benchmarks.h2_bench",
}


def main(argv: list[str]) -> None:
    unknown = set(argv) - set(SUITES)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise SystemExit(f"unknown benchmark(s): {names}; choose from {', '.join(SUITES)}")
    for name, module_name in SUITES.items():
        if argv and name not in argv:
            continue
        module = importlib.import_module(module_name)
        print(module.render(module.run()), flush=True)
        print(flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
