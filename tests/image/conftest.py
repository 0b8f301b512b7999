"""Smoke tests of the built container image; `make image-test` builds the image and runs them.

They need root, buildah and a built image, so the default test run (`make test`) does not collect
them: they run only when INGRESSCTL_IMAGE names the image to test.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("INGRESSCTL_IMAGE") else ["test_*.py"]
