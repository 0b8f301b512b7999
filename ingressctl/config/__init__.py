"""Static configuration: Traefik-v1-style traefik.toml (read with tomlkit) plus command-line flags."""

from ingressctl.config.loader import StaticConfigError, load_static_config
from ingressctl.config.options import compile_options
from ingressctl.config.overrides import ConfigOverrides

__all__ = ["ConfigOverrides", "StaticConfigError", "compile_options", "load_static_config"]
