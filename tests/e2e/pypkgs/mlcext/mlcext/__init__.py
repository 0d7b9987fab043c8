"""mldeploy test package (C extension)."""
from mlcext._speed import add

__all__ = ["add"]
