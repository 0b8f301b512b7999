"""ingressctl.server."""
