"""cdln — the command line of the compressed-DLN package (``cdln theory``, …)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
