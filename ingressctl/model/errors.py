"""One error tree; each error carries the exit code the CLI maps it to."""


class IngressctlError(Exception):
    """Base of every error ingressctl raises on purpose. The message names the object and the fix."""

    exit_code: int = 2


class UsageError(IngressctlError):
    """The command line asks for something impossible (bad flag value, conflicting options)."""

    exit_code = 2


class InputError(IngressctlError):
    """An input file or stream cannot be read at all (missing, unreadable, not text)."""

    exit_code = 2


class ConfigError(IngressctlError):
    """The static configuration (traefik.toml or flags) is invalid."""

    exit_code = 2
