"""Smooth weighted round robin (as nginx does it) over a backend's upstreams.

Each pick adds every candidate's weight to its running score, takes the highest score and
subtracts the total weight from it: weights {a:5, b:1, c:1} give a a b a c a a, interleaved
rather than in bursts. Ejected addresses are skipped while at least one other is usable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ingressctl.model import Upstream

Key = tuple[str, int]


class Peer:
    __slots__ = ("current", "key", "label", "upstream", "weight")

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.key: Key = (upstream.host, upstream.port)
        self.label = upstream.authority
        self.weight = max(0, upstream.weight)
        self.current = 0


class SmoothWeightedRoundRobin:
    __slots__ = ("_single", "peers")

    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        self.peers = [Peer(u) for u in upstreams if u.weight > 0]
        self._single = self.peers[0] if len(self.peers) == 1 else None

    def __len__(self) -> int:
        return len(self.peers)

    def pick(self, ejected: Callable[[Key], bool], exclude: Key | None = None) -> Peer | None:
        """The next peer, skipping ejected ones and `exclude`; None when no peer remains.

        When every peer is ejected the one whose ejection ends first is still tried: refusing
        outright would turn a short outage of all endpoints into a longer one.
        """
        single = self._single
        if single is not None:
            if exclude == single.key:
                return None
            return single
        total = 0
        best: Peer | None = None
        for peer in self.peers:
            if peer.key == exclude or ejected(peer.key):
                continue
            peer.current += peer.weight
            total += peer.weight
            if best is None or peer.current > best.current:
                best = peer
        if best is None:
            return None
        best.current -= total
        return best

    def pick_any(self, exclude: Key | None, remaining: Callable[[Key], float]) -> Peer | None:
        """The peer whose ejection ends first (all are ejected), never `exclude`."""
        candidates = [p for p in self.peers if p.key != exclude]
        if not candidates:
            return None
        return min(candidates, key=lambda p: remaining(p.key))
