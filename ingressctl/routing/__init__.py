"""ingressctl.routing."""
