"""Which requests go to a route's canary (ingress-nginx canary-by-header / -by-cookie / -weight).

ingress-nginx's order (its balancer's `route_to_alternative_balancer`): the header first — with
canary-by-header-value only that exact value selects the canary, with canary-by-header-pattern a
value the pattern matches does, otherwise `always` does and `never` keeps the request off the
canary at once; any other value falls through. Then the cookie (`always` / `never`), then a draw
against canary-weight / canary-weight-total.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from aiohttp.web_request import BaseRequest

from ingressctl.model.canary import CanaryRules
from ingressctl.routing.userregex import UserRegex, compile_user_regex


class CanaryChoice:
    __slots__ = ("_draw", "_pattern", "rules")

    def __init__(self, rules: CanaryRules, draw: Callable[[], float] = random.random) -> None:
        self.rules = rules
        # Checked by the compiler (RE2), so it compiles; RE2 is linear in the header's length.
        self._pattern: UserRegex | None = (
            compile_user_regex(rules.header_pattern) if rules.header_pattern else None
        )
        self._draw = draw

    def to_canary(self, request: BaseRequest) -> bool:
        rules = self.rules
        if rules.header:
            value = request.headers.get(rules.header)
            if value is not None:
                if rules.header_value:
                    if value == rules.header_value:
                        return True
                elif self._pattern is not None:
                    if self._pattern.search(value) is not None:
                        return True
                elif value == "always":
                    return True
                elif value == "never":
                    return False
        if rules.cookie:
            cookie = request.cookies.get(rules.cookie)
            if cookie == "always":
                return True
            if cookie == "never":
                return False
        return rules.weight > 0 and self._draw() * rules.total < rules.weight
