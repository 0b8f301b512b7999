"""ingressctl.manifests."""
