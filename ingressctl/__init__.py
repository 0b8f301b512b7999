"""ingressctl: a Kubernetes ingress controller and reverse proxy, and the CLI around it."""

__version__ = "0.1.0"
