"""Traefik's circuit-breaker expressions (`NetworkErrorRatio() > 0.5 || LatencyAtQuantileMS(50.0) > 50`),
parsed by a small recursive-descent parser into typed conditions: never evaluated as code.

Grammar: expr := conj ('||' conj)* ; conj := atom ('&&' atom)* ; atom := '(' expr ')' | call op number ;
call := NAME '(' [number (',' number)*] ')'.
"""

from __future__ import annotations

import re

from ingressctl.model.backend_policy import (
    BreakerComparison,
    BreakerCondition,
    BreakerJunction,
    BreakerMetric,
)

MAX_LENGTH = 1024
_MAX_DEPTH = 16
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||>=|<=|==|!=|[><(),]))")
_ARITY = {"NetworkErrorRatio": 0, "ResponseCodeRatio": 4, "LatencyAtQuantileMS": 1}
_COMPARISONS = frozenset({">", ">=", "<", "<=", "==", "!="})


class ExpressionError(ValueError):
    """The expression cannot be parsed; the message says where and what was expected."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected {text[pos:].lstrip()[:12]!r} at character {pos + 1}")
        number, name, symbol = match.groups()
        if number is not None:
            out.append(("number", number))
        elif name is not None:
            out.append(("name", name))
        else:
            out.append(("symbol", symbol))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, kind: str, what: str) -> str:
        if self.at >= len(self.tokens):
            raise ExpressionError(f"the expression ends where {what} was expected")
        token_kind, value = self.tokens[self.at]
        if token_kind != kind and value != kind:
            raise ExpressionError(f"{value!r} where {what} was expected")
        self.at += 1
        return value

    def expression(self, depth: int) -> BreakerCondition:
        if depth > _MAX_DEPTH:
            raise ExpressionError(f"more than {_MAX_DEPTH} nested parentheses")
        left = self.conjunction(depth)
        while self.peek() == "||":
            self.at += 1
            left = BreakerJunction("||", left, self.conjunction(depth))
        return left

    def conjunction(self, depth: int) -> BreakerCondition:
        left = self.atom(depth)
        while self.peek() == "&&":
            self.at += 1
            left = BreakerJunction("&&", left, self.atom(depth))
        return left

    def atom(self, depth: int) -> BreakerCondition:
        if self.peek() == "(":
            self.at += 1
            inner = self.expression(depth + 1)
            self.take(")", "')'")
            return inner
        name = self.take("name", "a function (NetworkErrorRatio, ResponseCodeRatio, LatencyAtQuantileMS)")
        arity = _ARITY.get(name)
        if arity is None:
            raise ExpressionError(
                f"unknown function {name!r} (use NetworkErrorRatio, ResponseCodeRatio or LatencyAtQuantileMS)"
            )
        self.take("(", f"'(' after {name}")
        arguments: list[float] = []
        if self.peek() != ")":
            arguments.append(float(self.take("number", "a number")))
            while self.peek() == ",":
                self.at += 1
                arguments.append(float(self.take("number", "a number")))
        self.take(")", f"')' closing {name}(")
        if len(arguments) != arity:
            raise ExpressionError(f"{name} takes {arity} argument(s), not {len(arguments)}")
        _check_arguments(name, arguments)
        operator = self.take("symbol", "a comparison (>, >=, <, <=, ==, !=)")
        if operator not in _COMPARISONS:
            raise ExpressionError(f"{operator!r} where a comparison (>, >=, <, <=, ==, !=) was expected")
        value = float(self.take("number", f"a number after {operator}"))
        return BreakerComparison(BreakerMetric(name, tuple(arguments)), operator, value)


def _check_arguments(name: str, arguments: list[float]) -> None:
    if name == "ResponseCodeRatio":
        a, b, c, d = arguments
        if not (0 <= a < b <= 600 and 0 <= c < d <= 600):
            raise ExpressionError(
                "ResponseCodeRatio(from, to, dividedByFrom, dividedByTo) takes two status ranges "
                "within 0-600, each from < to"
            )
    elif name == "LatencyAtQuantileMS" and not 0 < arguments[0] <= 100:
        raise ExpressionError("LatencyAtQuantileMS takes a quantile between 0 and 100")


def parse_breaker_expression(text: str) -> BreakerCondition:
    """The condition of `text`; raises ExpressionError saying what is wrong."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("the expression is empty")
    parser = _Parser(tokens)
    condition = parser.expression(0)
    if parser.at != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.at][1]!r} after a complete condition")
    return condition


def describe_condition(condition: BreakerCondition) -> str:
    """The condition written back in the expression language, normalised."""
    if isinstance(condition, BreakerJunction):
        left, right = describe_condition(condition.left), describe_condition(condition.right)
        return f"({left} {condition.operator} {right})"
    arguments = ", ".join(f"{a:g}" for a in condition.metric.arguments)
    return f"{condition.metric.function}({arguments}) {condition.operator} {condition.value:g}"
