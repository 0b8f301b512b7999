"""`.ingressctl.toml`: a repository's own `validate` settings, found from the working directory upwards
(as ruff and mypy find theirs), so that every CI step and every developer runs the same gate.

    # .ingressctl.toml
    ignore = ["IC204", "IC206"]      # or "IC204,IC206"
    min-severity = "warning"
    baseline = "ingressctl-baseline.json"   # relative to this file
    require-services = true

The same keys may sit under a `[validate]` table. Flags win over the file; `--ignore` adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ingressctl.model import ConfigError

FILE_NAME: Final = ".ingressctl.toml"
_KEYS: Final = frozenset({"ignore", "min-severity", "baseline", "require-services"})
_SEVERITIES: Final = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """What the file said (empty when there is none)."""

    path: Path | None = None
    ignore: tuple[str, ...] = ()
    min_severity: str | None = None
    baseline: Path | None = None
    require_services: bool = False


def find(start: Path) -> Path | None:
    """The nearest .ingressctl.toml in `start` or a parent directory."""
    for directory in (start, *start.parents):
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load(start: Path) -> ProjectSettings:
    """The settings of the nearest project file. Raises ConfigError naming the file and the key."""
    path = find(start.resolve())
    if path is None:
        return ProjectSettings()
    import tomllib  # only when there is a file to read

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc}); fix it or run validate --no-config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix it or run validate --no-config") from exc
    table = document.get("validate", document)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [validate] must be a table of settings")
    unknown = sorted(key for key in table if key not in _KEYS and key != "validate")
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(_KEYS))}")
    ignore = table.get("ignore", [])
    if isinstance(ignore, str):
        ignore = [ignore]
    if not isinstance(ignore, list) or not all(isinstance(code, str) for code in ignore):
        raise ConfigError(f'{path}: ignore must be a list of codes, e.g. ignore = ["IC204"]')
    severity = table.get("min-severity")
    if severity is not None and (not isinstance(severity, str) or severity.lower() not in _SEVERITIES):
        raise ConfigError(f"{path}: min-severity must be one of {', '.join(_SEVERITIES)}, not {severity!r}")
    baseline = table.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{path}: baseline must be a file name")
    require = table.get("require-services", False)
    if not isinstance(require, bool):
        raise ConfigError(f"{path}: require-services must be true or false")
    return ProjectSettings(
        path=path,
        ignore=tuple(ignore),
        min_severity=severity.lower() if severity else None,
        baseline=(path.parent / baseline) if baseline else None,
        require_services=require,
    )
