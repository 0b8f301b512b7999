"""Ingress class selection: which Ingresses this controller serves."""

from __future__ import annotations

from collections.abc import Sequence

from ingressctl.model import Diagnostic, Ingress, IngressClass, Severity
from ingressctl.routing import codes
from ingressctl.routing.annotations import CLASS
from ingressctl.routing.options import CompileOptions
from ingressctl.routing.report import annotation_location, finding


class ClassSelector:
    def __init__(self, classes: Sequence[IngressClass], options: CompileOptions) -> None:
        self.options = options
        self.ours = {options.ingress_class, *options.extra_classes}
        self.by_name = {c.meta.name: c for c in classes}
        self.default_is_ours = any(c.is_default and c.controller == options.controller_name for c in classes)

    def _class_name_is_ours(self, name: str) -> bool:
        ingress_class = self.by_name.get(name)
        if ingress_class is not None and ingress_class.controller == self.options.controller_name:
            return True
        return name in self.ours

    def select(self, ingress: Ingress) -> Diagnostic | None:
        """None when we serve `ingress`; otherwise the INFO finding that says why not."""
        annotation = ingress.meta.annotations.get(CLASS)
        if annotation is not None and annotation.strip():
            # The legacy annotation wins over spec.ingressClassName, as Traefik v1 read it.
            if self._class_name_is_ours(annotation.strip()):
                return None
            return finding(
                codes.OTHER_CLASS,
                Severity.INFO,
                ingress,
                f"ingress class {annotation.strip()!r} (annotation) is not ours; not routed",
                f"Set {CLASS}: {self.options.ingress_class} to have ingressctl serve it.",
                annotation_location(ingress, CLASS),
            )
        name = ingress.ingress_class_name
        if name:
            if self._class_name_is_ours(name):
                return None
            ingress_class = self.by_name.get(name)
            why = (
                f"IngressClass {name} belongs to controller {ingress_class.controller!r}"
                if ingress_class is not None
                else f"ingressClassName {name!r} is not ours"
            )
            return finding(
                codes.OTHER_CLASS,
                Severity.INFO,
                ingress,
                f"{why}; not routed",
                f"Use an IngressClass whose spec.controller is {self.options.controller_name!r}.",
            )
        if self.options.serve_unclassed or self.default_is_ours:
            return None
        return finding(
            codes.OTHER_CLASS,
            Severity.INFO,
            ingress,
            "has no ingress class and class-less Ingresses are not served; not routed",
            f"Set spec.ingressClassName: {self.options.ingress_class}.",
        )
