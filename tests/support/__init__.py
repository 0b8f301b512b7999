"""The helpers the test suite shares, in one place: polling until a deadline (`polling`), Ingress +
Service + EndpointSlice manifests (`manifests`) and real loopback backends (`backends`). A second
copy in a test file is a future disagreement: extend these instead."""
