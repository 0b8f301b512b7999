"""Kubernetes manifests → the model: YAML with positions, every apiVersion of the kinds we use.

Public API:
  load_paths(paths, stdin=None) -> LoadResult   files, directories, "-" for stdin
  load_text(text, name) -> LoadResult           the same for a string
  object_from_dict(obj, location=None)          one plain API object -> model object, diagnostics
  CODES                                         finding code -> one-line description
"""

# First: decides whether the compiled modules or their Python source are imported below.
from ingressctl.manifests.native import choose_code

choose_code()

from ingressctl.manifests.codes import CODES  # noqa: E402
from ingressctl.manifests.loader import LoadResult, load_paths, load_text  # noqa: E402
from ingressctl.manifests.objects import object_from_dict  # noqa: E402
from ingressctl.manifests.positioned import FieldIndex  # noqa: E402

__all__ = ["CODES", "FieldIndex", "LoadResult", "load_paths", "load_text", "object_from_dict"]
