"""ingressctl.acme."""
