"""Write-audit-publish of the corpus directory: stage a build, publish it by an atomic switch, keep versions.

Layout of the corpus directory::

    staging/<build>/          a build being written or audited; a build that failed its checks stays here
    versions/<version>/       each published build, named by its content hash (Parquet, card, charts, HF copy)
    current -> versions/<v>   the published build: one symlink, replaced atomically (``os.replace``)
    versions.txt              the published versions, oldest first (the order rollbacks go back in)
    bimed_corpus.parquet, README.md, hf_dataset, tokens_by_*.png -> current/...   stable paths for readers

Publishing renames the staged folder (same file system: no copy) and swaps ``current``; readers of the stable
paths see the old build or the new one, never a mix. A failed build never touches ``versions/`` or ``current``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

CURRENT = "current"
VERSIONS = "versions"
STAGING = "staging"
ORDER = "versions.txt"
DEFAULT_KEEP = 5
_CHUNK = 8 << 20


class PublishError(RuntimeError):
    """A rollback or publish that cannot be done as asked (unknown version, nothing to roll back to)."""


def new_staging(directory: Path, name: str | None = None) -> Path:
    """An empty folder for one build, on the corpus directory's file system (so publishing is a rename)."""
    path = Path(directory) / STAGING / (name or uuid.uuid4().hex)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def content_version(data_file: Path) -> str:
    """The build's version: the first 16 hex digits of the BLAKE2b hash of its Parquet file's bytes."""
    digest = hashlib.blake2b(digest_size=8)
    with open(data_file, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def make_world_readable(root: Path) -> None:
    """Files 0644 and folders 0755: a training pod running as another user reads the corpus."""
    os.chmod(root, 0o755)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _symlink_atomic(target: str, link: Path) -> None:
    """Point ``link`` at ``target`` in one step (a temporary link renamed over it)."""
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.tmp")
    os.symlink(target, tmp)
    if link.is_dir() and not link.is_symlink():  # a real folder from a build before versioning
        shutil.rmtree(link)
    os.replace(tmp, link)


def current_version(directory: Path) -> str | None:
    link = Path(directory) / CURRENT
    return Path(os.readlink(link)).name if link.is_symlink() else None


def published_versions(directory: Path) -> list[str]:
    """The kept versions, in the order they were (last) published, oldest first."""
    order = Path(directory) / ORDER
    listed = order.read_text(encoding="utf-8").split() if order.is_file() else []
    return [v for v in listed if (Path(directory) / VERSIONS / v).is_dir()]


def _write_order(directory: Path, versions: list[str]) -> None:
    tmp = Path(directory) / f".{ORDER}.{uuid.uuid4().hex}.tmp"
    tmp.write_text("".join(f"{v}\n" for v in versions), encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, Path(directory) / ORDER)


def _switch(directory: Path, version: str) -> None:
    directory = Path(directory)
    _symlink_atomic(f"{VERSIONS}/{version}", directory / CURRENT)
    # The stable paths go through ``current``: created once, they follow every switch.
    for entry in sorted((directory / VERSIONS / version).iterdir()):
        link = directory / entry.name
        if not (link.is_symlink() and os.readlink(link) == f"{CURRENT}/{entry.name}"):
            _symlink_atomic(f"{CURRENT}/{entry.name}", link)
    _fsync_dir(directory)


def publish(directory: Path, staged: Path, version: str, keep: int = DEFAULT_KEEP) -> Path:
    """Move a staged build that passed its checks to ``versions/<version>`` and make it current.

    The same content built again is already published: the staged copy is dropped and that version made
    current (and the newest). Versions beyond the ``keep`` most recently published are deleted, and so are
    failed builds' staging folders beyond the ``keep`` newest."""
    if keep < 1:
        raise PublishError(f"keep={keep}: at least the published version must be kept")
    directory = Path(directory)
    target = directory / VERSIONS / version
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(staged)
    else:
        os.rename(staged, target)
    make_world_readable(target)
    _switch(directory, version)
    order = [v for v in published_versions(directory) if v != version] + [version]  # republished: newest again
    for old in order[:-keep]:
        shutil.rmtree(directory / VERSIONS / old)
    _write_order(directory, order[-keep:])
    # Failed builds stay for inspection, the newest ``keep`` of them: at full size each is gigabytes.
    failed = sorted((directory / STAGING).iterdir(), key=lambda p: p.stat().st_mtime_ns)
    for old in failed[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def rollback(directory: Path, version: str | None = None) -> str:
    """Make ``version`` (default: the one published before the current one) current again; returns it."""
    directory = Path(directory)
    versions = published_versions(directory)
    current = current_version(directory)
    if version is None:
        earlier = versions[:versions.index(current)] if current in versions else versions
        if not earlier:
            raise PublishError(f"{directory}: no published version before {current} to roll back to")
        version = earlier[-1]
    elif version not in versions:
        raise PublishError(f"{directory}: version {version!r} is not kept; kept: {', '.join(versions) or 'none'}")
    _switch(directory, version)  # publication order is kept: a second rollback goes further back
    return version


def main(argv: list[str] | None = None) -> int:
    """``python -m bimed_assets.corpus.publish [--directory D] [--rollback [VERSION]]``: list the kept versions
    (the current one marked), or roll back to VERSION (default: the one published before the current one)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bimed_assets.corpus.publish", description=main.__doc__)
    parser.add_argument("--directory", help="corpus directory (default: corpus.directory of the project settings)")
    parser.add_argument("--rollback", nargs="?", const="", metavar="VERSION", help="make VERSION current again")
    args = parser.parse_args(argv)
    if args.directory is None:
        from bimed_assets import settings  # the project file: only when no directory is given

        args.directory = settings.load().corpus.directory
    if args.rollback is not None:
        try:
            print(f"current: {rollback(Path(args.directory), args.rollback or None)}")
        except PublishError as exc:
            print(exc)
            return 1
        return 0
    current = current_version(Path(args.directory))
    for version in published_versions(Path(args.directory)):
        print(f"{version}{'  (current)' if version == current else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
