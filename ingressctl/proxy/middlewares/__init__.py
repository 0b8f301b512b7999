"""A route's middlewares, one module each; independent of each other (an import-linter contract).

Each is built once per route from its spec (ingressctl.routing.chain) when the plan is built.
"""
