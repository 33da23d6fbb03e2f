"""The application layer: one module per use case, no click, no printing.

A use case takes a :class:`~retrovue.app.context.Context` and plain arguments and returns a typed
result (``retrovue.model.results`` or its own dataclass) or raises a ``retrovue.errors`` error.
The CLI parses arguments, calls it, hands the result to a renderer and maps it to an exit code.
"""
