"""ingressctl.tls."""
