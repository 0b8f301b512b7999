"""ingressctl.checks."""
