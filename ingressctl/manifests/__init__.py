"""Kubernetes manifests → the model: YAML with positions, every apiVersion of the kinds we use.

Public API:
  load_paths(paths, stdin=None) -> LoadResult   files, directories, "-" for stdin
  load_text(text, name) -> LoadResult           the same for a string
  object_from_dict(obj, location=None)          one plain API object -> model object, diagnostics
  CODES                                         finding code -> one-line description
"""

from ingressctl.manifests.codes import CODES
from ingressctl.manifests.loader import LoadResult, load_paths, load_text
from ingressctl.manifests.objects import object_from_dict
from ingressctl.manifests.positioned import FieldIndex

__all__ = ["CODES", "FieldIndex", "LoadResult", "load_paths", "load_text", "object_from_dict"]
