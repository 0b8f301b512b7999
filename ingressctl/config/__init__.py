"""ingressctl.config."""
