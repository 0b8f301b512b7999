"""ingressctl.cli."""
