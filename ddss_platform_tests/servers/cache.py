"""Where built servers live: ``DDSS_SERVERS_CACHE`` (default ``~/.cache/ddss-servers``), one folder per server
and version, complete once its ``.built`` marker exists. Builds take a lock per folder, so two processes never
build the same version at once and a build that died half-way is redone."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV = "DDSS_SERVERS_CACHE"
MARKER = ".built"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ddss-servers").expanduser()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached(name: str, version: str, build: Callable[[Path], None], log: Callable[[str], None] = print) -> Path:
    """The folder of ``name`` at ``version``, made by ``build(folder)`` unless a complete one is cached."""
    folder = cache_root() / f"{name}-{version}"
    if (folder / MARKER).exists():
        return folder
    with _locked(folder):
        if (folder / MARKER).exists():  # another process built it while this one waited
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        log(f"servers: building {name} {version} into {folder} (once; cached afterwards)")
        build(folder)
        (folder / MARKER).touch()
    return folder
