"""Where derivatives live. A folder today; anything with put/path (an object store) can replace it.

Names are content hashes, never the client's file name: the same bytes stored twice are one file, and
no name can point outside the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}\.jpg$")


class Store(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` (a JPEG) and return its name."""

    def path(self, name: str) -> Path:
        """The file behind a name returned by put(); ValueError for anything else."""

    def remove(self, name: str) -> None:
        """Delete the file behind a name returned by put() (nothing when it is gone already)."""


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:2]}/{digest}.jpg"
        final = self.root / name
        if final.exists():
            return name  # same content, already complete (it only ever appears by rename)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the final name, flush to disk, then rename: a reader sees all or nothing.
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return name

    def path(self, name: str) -> Path:
        if not NAME.match(name):
            raise ValueError(f"not a photo name: {name!r}")
        return self.root / name

    def remove(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)
