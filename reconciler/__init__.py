"""reconciler: phone numbers as code."""

__version__ = "0.1.0"
