"""Atomic text output, shared by every writer of results and reports (sim, verify, cdln), and the process's
resident-set peak (reset and read through /proc, for the memory the benchmarks and Table 1 report)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "clear_peak_rss", "peak_rss_bytes"]


def atomic_write_text(path: str | os.PathLike, text: str, mode: int = 0o644) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place: a reader sees the
    old file or the new one, never half of one. ``mode`` (mkstemp makes 0600 files; these are published)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def clear_peak_rss() -> bool:
    """Reset the resident set's high-water mark (VmHWM) where the kernel allows it; whether it did."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int | None:
    """VmHWM in bytes (None where /proc/self/status is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
