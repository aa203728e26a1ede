"""cdln.sim — GD on wide and compressed DLNs with torch (the simulation layer).

Not built yet: the simulation layer is issue 3 ("The simulation layer: real GD on wide and
compressed DLNs …"). This package exists so that the import-linter layer contract
``cdln > sim > theory`` is in force from the start; it exports nothing.
"""

__all__: list[str] = []
