"""A real full disk for tests of what the node does when SQLite cannot write: a small tmpfs, filled by a file.

Mounting needs root; where it is refused the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(mount: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `mount` (created if missing) while the block runs."""
    mount.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, text=True, timeout=30
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the node's data dir: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, timeout=30).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, timeout=30)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; its path (unlink it to give the space back)."""
    filler = directory / "filler"
    for block in (b"\0" * 65536, b"\0" * 512):  # then the last partial block
        with open(filler, "ab", buffering=0) as out:
            try:
                while True:
                    out.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler
