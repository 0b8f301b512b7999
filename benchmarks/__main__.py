"""`make bench`: every benchmark, printed as Markdown tables with ratios against peers."""

from __future__ import annotations

import importlib.util
import sys


def main(argv: list[str]) -> None:
    which = set(argv) or {"compile", "proxy", "kube"}
    if "compile" in which:
        from benchmarks import compile_bench

        print(compile_bench.render(compile_bench.run()), flush=True)
        print()
    if "kube" in which and importlib.util.find_spec("benchmarks.kube_propagation") is not None:
        from benchmarks import kube_propagation

        print(kube_propagation.main_text(), flush=True)
        print()
    if "proxy" in which:
        from benchmarks import proxy_bench

        print(proxy_bench.render(proxy_bench.run()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
