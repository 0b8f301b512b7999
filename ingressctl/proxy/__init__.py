"""ingressctl.proxy."""
