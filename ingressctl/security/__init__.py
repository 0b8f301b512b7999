"""ingressctl.security."""
