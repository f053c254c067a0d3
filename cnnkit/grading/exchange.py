"""``nbgrader collect`` that copies a hand-in as plain files and folders, never through a link.

nbgrader's own collect (0.9.6: ``Exchange.do_copy``, ``shutil.copytree``) follows symbolic links.
A submission folder in the exchange's ``inbound/`` stays writable after ``nbgrader submit``
(nbgrader makes it ``0777``), so a student can add ``notes.json -> <course>/solutions/...`` (or the
gradebook, the course config, another student's work): collect copied the link's *target* into
``submitted/<student>/``, and the grader handed it to that student's kernel. The submission folder
itself may also be a link placed in ``inbound/``.

:class:`LinkSafeCollect` opens every folder and file without following links (``O_NOFOLLOW``, each
relative to its already opened parent, so nothing can be swapped for a link between a look and a
copy) and copies regular files and folders only. Left out, each with a warning naming the student
and the path: symbolic links (to files or folders, anywhere in the tree, dangling or not), FIFOs,
sockets, devices, files with more than one hard link, files over ``CourseDirectory.max_file_size``
and folders nested deeper than :data:`MAX_DEPTH`. Kept from nbgrader: ``CourseDirectory.ignore`` and
``include``, the ``max_dir_size`` bound (a submission over it is not collected; logged as an error,
and the other students are still collected) and the group-shared permissions. Copies keep the
source's permission bits (without setuid, setgid, sticky; always readable and writable by the
instructor) and times, as ``shutil.copy2`` would.

Set in the course's ``nbgrader_config.py``::

    c.ExchangeFactory.collect = "cnnkit.grading.exchange.LinkSafeCollect"
"""
from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import stat
from dataclasses import dataclass
from datetime import datetime

from nbgrader.exchange.default.collect import ExchangeCollect

__all__ = ["LinkSafeCollect", "MAX_DEPTH"]

#: Folders deeper than this inside one submission are left out (each level holds an open folder).
MAX_DEPTH = 32
#: A submission with more files and folders than this is not collected (max_dir_size counts bytes
#: only: 30,000 empty files passed it; millions would use up the instructor's inodes and time).
MAX_ENTRIES = 10_000

_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO swapped in after the look returns at once (fstat then refuses it)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _TooBig(Exception):
    """The submission's files add up to more than ``CourseDirectory.max_dir_size``."""


def _kind(mode: int) -> str | None:
    """What an entry that is neither a regular file nor a folder is, in words (None if it is one)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file or folder"


@dataclass
class _Copy:
    """One submission being copied: its student, the bounds, and the bytes written so far."""

    student: str
    exclude: list[str]
    include: list[str]
    max_file: int | None    # bytes; None: no bound (CourseDirectory.max_file_size = 0)
    max_total: int          # bytes, CourseDirectory.max_dir_size
    log: logging.Logger
    total: int = 0
    entries: int = 0

    def left_out(self, what: str, rel: str, detail: str = "") -> None:
        self.log.warning("left out: %s %r%s in the submission of %s", what, rel, detail, self.student)

    def folder(self, src_fd: int, dest: str, rel: str, depth: int) -> None:
        """Copy the entries of the open folder ``src_fd`` into the existing folder ``dest``."""
        with os.scandir(src_fd) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            path = f"{rel}/{name}" if rel else name
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                raise _TooBig(f"{path} (more than {MAX_ENTRIES} files and folders)")
            try:
                st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
            except OSError as err:
                self.left_out(f"an entry that could not be read ({err.strerror})", path)
                continue
            what = _kind(st.st_mode)
            if what is not None:
                target = ""
                if stat.S_ISLNK(st.st_mode):
                    try:
                        target = f" -> {os.readlink(name, dir_fd=src_fd)!r}"
                    except OSError:
                        pass
                self.left_out(what, path, target)
            elif any(fnmatch.fnmatch(name, glob) for glob in self.exclude):
                self.log.debug("Ignoring excluded file '%s' (see config option CourseDirectory.ignore)", path)
            elif stat.S_ISDIR(st.st_mode):
                if depth >= MAX_DEPTH:
                    self.left_out(f"a folder nested deeper than {MAX_DEPTH} levels", path)
                else:
                    self.subfolder(src_fd, name, os.path.join(dest, name), path, depth + 1)
            elif self.include and not any(fnmatch.fnmatch(name, glob) for glob in self.include):
                self.log.debug("Ignoring non included file '%s' (see config option CourseDirectory.include)", path)
            else:
                self.file(src_fd, name, os.path.join(dest, name), path, st)

    def subfolder(self, parent_fd: int, name: str, dest: str, rel: str, depth: int) -> None:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as err:   # swapped for a link or a file since the look (ELOOP, ENOTDIR), or unreadable
            self.left_out(f"a folder that could not be opened ({err.strerror})", rel)
            return
        try:
            st = os.fstat(fd)
            os.mkdir(dest, 0o700)
            self.folder(fd, dest, rel, depth)
            _keep_mode_and_times(dest, st, 0o700)
        finally:
            os.close(fd)

    def file(self, parent_fd: int, name: str, dest: str, rel: str, looked: os.stat_result) -> None:
        if self.max_file is not None and looked.st_size > self.max_file:
            self.left_out(f"a file of {looked.st_size} bytes, over CourseDirectory.max_file_size "
                          f"({self.max_file} bytes)", rel)
            return
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=parent_fd)
        except OSError as err:
            self.left_out(f"a file that could not be opened ({err.strerror})", rel)
            return
        try:
            st = os.fstat(fd)
            what = _kind(st.st_mode)
            if what is not None:    # swapped since the look
                self.left_out(what, rel)
                return
            if st.st_nlink > 1:     # another name for a file elsewhere, perhaps not the student's
                self.left_out(f"a file with {st.st_nlink} hard links", rel)
                return
            os.set_blocking(fd, True)
            # the student may still write to the file while it is copied: read no more than the bounds allow
            dir_left = self.max_total - self.total
            limit = dir_left if self.max_file is None else min(dir_left, self.max_file)
            written = 0
            with open(os.open(dest, _NEW_FILE_FLAGS, 0o600), "wb") as sink:
                while written <= limit:
                    chunk = os.read(fd, _CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written <= limit:
                        sink.write(chunk)
            if written > limit:
                os.unlink(dest)
                if self.max_file is None or self.max_file > dir_left:
                    raise _TooBig(rel)
                self.left_out(f"a file that grew past CourseDirectory.max_file_size ({self.max_file} bytes) "
                              "while it was copied", rel)
                return
            self.total += written
            _keep_mode_and_times(dest, st, 0o600)
        finally:
            os.close(fd)


def _keep_mode_and_times(dest: str, st: os.stat_result, owner: int) -> None:
    """``shutil.copystat`` for what collect made: the permission bits (no setuid, setgid or sticky,
    always ``owner`` for the instructor) and the access and modification times."""
    os.chmod(dest, (stat.S_IMODE(st.st_mode) & 0o777) | owner)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))


def account_uid(username: str) -> int | None:
    """The uid of the Unix account ``username``, or None where there is none (LMS ids, containers, Windows)."""
    if not isinstance(username, str):
        raise TypeError(f"username must be a str, got {type(username).__name__}")
    try:
        import pwd
    except ImportError:
        return None
    try:
        return pwd.getpwnam(username).pw_uid
    except KeyError:
        return None


class LinkSafeCollect(ExchangeCollect):
    """nbgrader's default collect whose copy follows no link and copies regular files and folders only.

    It also refuses a submission folder claiming a student who has a Unix account but owned by another
    account: ``inbound/`` is writable by every student, and nbgrader collects, for each name, the folder
    with the latest timestamp *in its name*, only warning when its owner differs -- so ``bob`` could
    create ``alice+a1+<later time>+x`` and replace alice's work. Such folders are put last (alice's own
    latest folder is collected) and never copied.
    """

    def _student(self, src: str) -> str:
        try:
            return self._path_to_record(src)["username"]
        except Exception:   # noqa: BLE001  (a name collect itself accepted; only for the messages)
            return os.path.basename(src)

    def _impostor(self, src: str, username: str) -> int | None:
        """The owner uid of ``src`` when it is not ``username``'s account (which exists), else None."""
        if not self.check_owner:
            return None
        expected = account_uid(username)
        try:
            owner = os.lstat(src).st_uid
        except OSError:
            return None
        return owner if expected is not None and owner != expected else None

    def _path_to_record(self, path):
        """nbgrader's record of an inbound folder; one whose name holds no time (``mallory+a1+not a time``,
        which stopped nbgrader's collect for the whole class) is kept apart, oldest of all, never copied."""
        try:
            return super()._path_to_record(path)
        except Exception:  # noqa: BLE001 - dateutil's ParserError, OverflowError...: a name nbgrader did not make
            filename = os.path.basename(path)
            return {"username": filename.split("+", 1)[0], "filename": filename, "timestamp": datetime.min,
                    "unreadable": True}

    def _sort_by_timestamp(self, records):
        """nbgrader's order (latest first), with folders not owned by the student they name put last."""
        ordered = super()._sort_by_timestamp(records)
        inbound = getattr(self, "inbound_path", "")
        return sorted(ordered, key=lambda r: self._impostor(os.path.join(inbound, r["filename"]), r["username"])
                      is not None)

    def do_copy(self, src: str, dest: str, log: logging.Logger | None = None) -> None:
        """Copy the submission folder ``src`` to ``dest`` (made here; it must not exist)."""
        log = log or self.log
        try:
            super()._path_to_record(src)
        except Exception:  # noqa: BLE001 - see _path_to_record
            log.warning("not collected: %r is not a submission folder nbgrader made (no time in its name)",
                        os.path.basename(src))
            return
        owner = self._impostor(src, self._student(src))
        if owner is not None:
            log.warning("not collected: %r claims to be a submission of %s but is owned by uid %d, another "
                        "account (CollectApp.check_owner)", os.path.basename(src), self._student(src), owner)
            return
        coursedir = self.coursedir
        copy = _Copy(student=self._student(src), exclude=list(coursedir.ignore), include=list(coursedir.include),
                     max_file=1000 * coursedir.max_file_size if coursedir.max_file_size else None,
                     max_total=1000 * coursedir.max_dir_size, log=log)
        try:
            src_fd = os.open(src, _DIR_FLAGS)
        except OSError as err:
            log.warning("left out: the whole submission of %s, %r is not a folder that can be opened without "
                        "following a link (%s); nothing collected", copy.student, src, err.strerror)
            return
        try:
            st = os.fstat(src_fd)
            os.mkdir(dest, 0o700)
            try:
                copy.folder(src_fd, dest, "", 0)
            except _TooBig as too_big:
                shutil.rmtree(dest)
                log.error("not collected: the submission of %s is larger than CourseDirectory.max_dir_size "
                          "(%d bytes) or holds more than %d entries (reached at %r)", copy.student, copy.max_total,
                          MAX_ENTRIES, str(too_big))
                return
            _keep_mode_and_times(dest, st, 0o700)
        finally:
            os.close(src_fd)
        if coursedir.groupshared:
            self._share_with_group(dest)

    def _share_with_group(self, dest: str) -> None:
        """What nbgrader's ``do_copy`` does after ``copytree`` when ``CourseDirectory.groupshared``:
        folders ``ug+rwx`` and setgid, files ``ug+rw`` (``dest`` holds no links: it is our copy)."""
        for dirname, _, filenames in os.walk(dest):
            self._add_bits(dirname, 0o2770, 0o2777)
            for filename in filenames:
                self._add_bits(os.path.join(dirname, filename), 0o660, 0o777)

    def _add_bits(self, path: str, bits: int, mask: int) -> None:
        mode = os.stat(path).st_mode
        if mode & bits != bits:
            try:
                os.chmod(path, (mode | bits) & mask)
            except PermissionError:
                self.log.warning("Could not update permissions of %s to make it groupshared", path)
