"""Importing this package registers every callback (module level @callback, one module per feature)."""
from callbacks import map, shell  # noqa: F401
