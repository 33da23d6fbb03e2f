"""`retrovue serve`: a JSON API and server-rendered pages over the same use cases as the CLI.

A thin client like cli/: each request builds its own ``Context``, calls app/ use cases and hands
their results to a renderer; it runs no SQL and holds no business rule of its own.
"""
