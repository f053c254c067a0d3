"""Fetch a published file once, check it, and keep it in the cache.

What can go wrong with a download, and what this module does about it:

* the network drops mid-way      -> the file is written under a temporary name and only
                                    renamed (``os.replace``, atomic) once it is complete;
* the bytes are wrong            -> the MD5 published with the data set is checked before
                                    the rename, so a corrupted file is never used;
* a server is down               -> every mirror is tried, in order, several times;
* a cached file was damaged later -> it is checked again on every use and fetched anew.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

#: Seconds to wait for a server before trying the next mirror.
TIMEOUT_S = 30.0
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a file with the published checksum."""


class ChecksumError(DownloadError):
    """A file's MD5 differs from the published one."""


@dataclass(frozen=True)
class Resource:
    """One published file: its name in the cache, its MD5 and the URLs it can come from."""

    filename: str
    md5: str
    urls: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError(f"Resource {self.filename!r} needs at least one URL")
        if len(self.md5) != 32:
            raise ValueError(f"md5 of {self.filename!r} must be 32 hex digits, got {self.md5!r}")


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 of a file, read in chunks so large archives need little memory."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stream_to(url: str, target, progress: bool, label: str) -> None:
    """Copy the body of ``url`` into the open binary file ``target``, with a progress bar."""
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # noqa: S310 - http(s) URLs we list
        total = response.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                  disable=not progress, leave=False) as bar:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                target.write(chunk)
                bar.update(len(chunk))
        if total is not None and target.tell() != total:
            raise DownloadError(f"{url}: got {target.tell()} bytes, the server announced {total}")


def fetch_once(url: str, dest: Path, md5: str, *, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` if its MD5 is ``md5``; else leave ``dest`` untouched and raise.

    The bytes go to a temporary file beside ``dest`` first; a failure or a checksum
    mismatch deletes it, success renames it over ``dest`` in one atomic step.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as target:
            _stream_to(url, target, progress, dest.name)
            target.flush()
            os.fsync(target.fileno())
        got = md5sum(tmp)
        if got != md5:
            raise ChecksumError(f"{url}: MD5 is {got}, the published MD5 of {dest.name} is {md5}")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def ensure(resource: Resource, folder: str | os.PathLike, *, download: bool = True,
           retries: int = 3, backoff_s: float = 1.0, progress: bool = True) -> Path:
    """The verified local copy of ``resource`` in ``folder``, downloading it if needed.

    A cached file whose MD5 is wrong (a damaged disk, a hand-copied partial file) is
    never returned: it is fetched again, or, with ``download=False``, reported.
    Each mirror is tried in turn, ``retries`` rounds in all, waiting ``backoff_s``,
    then twice as long, between rounds.
    """
    if retries < 1:
        raise ValueError(f"retries must be >= 1, got {retries}")
    dest = Path(folder) / resource.filename
    if dest.exists():
        got = md5sum(dest)
        if got == resource.md5:
            return dest
        problem = f"{dest} is damaged (MD5 {got}, published {resource.md5})"
        if not download:
            raise ChecksumError(f"{problem}; delete it or call with download=True to fetch it again")
        warnings.warn(f"{problem}: fetching it again", RuntimeWarning, stacklevel=2)
    elif not download:
        raise FileNotFoundError(
            f"{dest} is missing and download=False; call with download=True, or copy the file "
            f"from {resource.urls[0]} (MD5 {resource.md5}) there")
    errors: list[str] = []
    wait = backoff_s
    for attempt in range(retries):
        for url in resource.urls:
            try:
                return fetch_once(url, dest, resource.md5, progress=progress)
            except (OSError, DownloadError) as err:  # URLError and timeouts are OSErrors
                errors.append(f"  try {attempt + 1}, {url}: {err}")
        if attempt + 1 < retries:
            time.sleep(wait)
            wait *= 2
    kind = ChecksumError if errors and all("MD5" in e for e in errors) else DownloadError
    raise kind(f"could not fetch {resource.filename} with MD5 {resource.md5}:\n" + "\n".join(errors))
