"""Which event loop `serve` runs on: uvloop when installed (measured faster), unless opted out."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping

OPT_OUT_ENV = "INGRESSCTL_EVENT_LOOP"  # "asyncio": the standard library's loop even with uvloop installed


def uvloop_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether serve will run on uvloop: installed, and not opted out."""
    env = os.environ if environ is None else environ
    if env.get(OPT_OUT_ENV, "") == "asyncio":
        return False
    return importlib.util.find_spec("uvloop") is not None
