"""The sequel's claims (Ghosh, Kwon, Wang, Ravishankar, Qu 2025: GD on DLNs beyond the edge of stability).

Each is a :class:`verify.claims.Claim` with ``paper="eos"``; its tests are ``verify/test_<id>.py``.
"""

from __future__ import annotations

SEQUEL_CLAIMS: list = []
