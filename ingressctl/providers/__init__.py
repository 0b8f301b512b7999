"""Sources of Snapshots: manifest files and the Kubernetes API."""
