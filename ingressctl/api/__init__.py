"""ingressctl.api."""
