"""Fetch a published file once, check it, and keep it in the cache.

What can go wrong with a download, and what this module does about it:

* the network drops mid-way      -> the file is written under a temporary name and only
                                    renamed (``os.replace``, atomic) once it is complete;
* the bytes are wrong            -> the published checksum (a data set's MD5, or the SHA-256
                                    prefix in a model checkpoint's file name) is checked before
                                    the rename, so a corrupted file is never used;
* a server is down               -> every mirror is tried, in order, several times;
* a cached file was damaged later -> it is checked again on every use and fetched anew.
"""
from __future__ import annotations

import hashlib
import os
import re
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
    """A file's MD5 (or SHA-256) differs from the published one."""


@dataclass(frozen=True)
class Resource:
    """One published file: its name in the cache, its checksum and the URLs it can come from.

    Data sets publish an MD5 (``md5``, 32 hex digits). Model checkpoints publish the first hex
    digits of their SHA-256 in the file name (torchvision's ``alexnet-owt-7be5be79.pth``): give
    those as ``sha256`` (8 to 64 hex digits, a prefix of the digest) and leave ``md5`` empty.
    """

    filename: str
    md5: str
    urls: tuple[str, ...]
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError(f"Resource {self.filename!r} needs at least one URL")
        if self.sha256:
            if self.md5 or not re.fullmatch(r"[0-9a-f]{8,64}", self.sha256):
                raise ValueError(f"sha256 of {self.filename!r} must be 8-64 lower-case hex digits with md5 empty, "
                                 f"got sha256={self.sha256!r}, md5={self.md5!r}")
        elif len(self.md5) != 32:
            raise ValueError(f"md5 of {self.filename!r} must be 32 hex digits, got {self.md5!r}")

    def mismatch(self, path: str | os.PathLike) -> str | None:
        """None if the file at ``path`` has the published checksum, else what is wrong, in words."""
        if self.sha256:
            got = sha256sum(path)
            return None if got.startswith(self.sha256) else (
                f"SHA-256 is {got[:16]}..., the published SHA-256 of {self.filename} starts {self.sha256}")
        got = md5sum(path)
        return None if got == self.md5 else f"MD5 is {got}, the published MD5 of {self.filename} is {self.md5}"


def _hexdigest(path: str | os.PathLike, digest) -> str:
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 of a file, read in chunks so large archives need little memory."""
    return _hexdigest(path, hashlib.md5(usedforsecurity=False))


def sha256sum(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks (model checkpoints are hundreds of MB)."""
    return _hexdigest(path, hashlib.sha256())


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


def fetch_once(url: str, dest: Path, md5: str | Resource, *, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` if its MD5 is ``md5``; else leave ``dest`` untouched and raise.

    ``md5`` may also be a :class:`Resource`, whose own checksum (MD5 or SHA-256 prefix) is checked.

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
        expected = md5 if isinstance(md5, Resource) else Resource(dest.name, md5, (url,))
        problem = expected.mismatch(tmp)
        if problem:
            raise ChecksumError(f"{url}: {problem}")
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
        wrong = resource.mismatch(dest)
        if wrong is None:
            return dest
        problem = f"{dest} is damaged ({wrong})"
        if not download:
            raise ChecksumError(f"{problem}; delete it or call with download=True to fetch it again")
        warnings.warn(f"{problem}: fetching it again", RuntimeWarning, stacklevel=2)
    elif not download:
        raise FileNotFoundError(
            f"{dest} is missing and download=False; call with download=True, or copy the file "
            f"from {resource.urls[0]} ({_checksum_name(resource)}) there")
    errors: list[str] = []
    checksum_failures = 0
    wait = backoff_s
    for attempt in range(retries):
        for url in resource.urls:
            try:
                return fetch_once(url, dest, resource, progress=progress)
            except (OSError, DownloadError) as err:  # URLError and timeouts are OSErrors
                checksum_failures += isinstance(err, ChecksumError)
                errors.append(f"  try {attempt + 1}, {url}: {err}")
        if attempt + 1 < retries:
            time.sleep(wait)
            wait *= 2
    kind = ChecksumError if errors and checksum_failures == len(errors) else DownloadError
    raise kind(f"could not fetch {resource.filename} with {_checksum_name(resource)}:\n" + "\n".join(errors))


def _checksum_name(resource: Resource) -> str:
    return f"SHA-256 {resource.sha256}..." if resource.sha256 else f"MD5 {resource.md5}"
