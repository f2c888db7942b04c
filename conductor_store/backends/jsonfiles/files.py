"""Record files: paths, in-place writes, permissions, and the filesystem primitives under them.

One record lives in ``<project>/<table>/<id>.json`` as ``{"id": ..., "_version": ..., ...}``;
its ``_version`` is the seq of the commit that last wrote it (so it never repeats for a key,
even across delete and re-create; after a hand edit that raised it, it still grows by one).
Directories are created 0700 and files 0600, whatever the umask. Record files are written in
place (``open`` without ``O_TRUNC``, write, ``ftruncate``; new ones with ``O_EXCL``) and never
synced: the commit log, synced at every commit, can rebuild them (see :mod:`.log`).

A record file that cannot be read back (not JSON, not an object, wrong ``id``, no positive
``_version``, not a regular file) is answered with a
:class:`~conductor_store.errors.CorruptRecordError` naming its path, never with its content.
"""

from __future__ import annotations

import errno
import json
import os
from stat import S_ISDIR, S_ISREG
from typing import Any, Optional

from ...errors import BackendUnavailableError, CorruptRecordError, StoreError, ValidationError
from ...validation import ID_RE

DIR_MODE = 0o700
FILE_MODE = 0o600
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: strict JSON: no NaN / Infinity literals (which ``json`` accepts by default)
_DECODER = json.JSONDecoder(parse_constant=_no_constants)
_ASCII_ENCODER = json.JSONEncoder(ensure_ascii=True, check_circular=False, allow_nan=False)

StatKey = tuple  # (inode, size, mtime_ns): "the file has not changed since"


# -- filesystem primitives -------------------------------------------------------------------
def decode(data: bytes) -> Any:
    """Strict UTF-8 JSON: ``ValueError`` (or ``RecursionError``) for anything else."""
    return _DECODER.decode(data.decode("utf-8"))


def encode(doc: dict) -> bytes:
    """A document as UTF-8 JSON (ASCII-escaped when it holds lone surrogates)."""
    try:
        text = _ENCODER.encode(doc)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(f"document is not JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep the file valid UTF-8
        return _ASCII_ENCODER.encode(doc).encode("ascii")


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def datasync(fd: int) -> None:
    """``fdatasync`` where there is one (not macOS), else ``fsync``."""
    sync = getattr(os, "fdatasync", None) or os.fsync
    sync(fd)


def syncfs(fd: int) -> None:
    """Flush every dirty file of the filesystem holding ``fd`` (Linux ``syncfs``, else sync)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def mkdir(path: str) -> bool:
    """Create one directory 0700 (umask-independent); False if it already existed."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, DIR_MODE)
    return True


def makedirs(path: str) -> None:
    """Create ``path`` and missing parents 0700, each new entry synced into its parent."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        makedirs(parent)
    if mkdir(path):
        fsync_dir(parent or ".")


def read_int(path: str) -> Optional[int]:
    """The number a small state file holds (None: no file, or not a number)."""
    try:
        with open(path, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def write_int(path: str, value: int, durable: bool) -> None:
    """Replace a small state file with ``value`` (synced, with its directory, if ``durable``)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, FILE_MODE)
    try:
        write_all(fd, b"%d\n" % value)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        fsync_dir(os.path.dirname(path))


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def storage_error(action: str, where: str, exc: OSError, outcome: str = "") -> StoreError:
    """An ``OSError`` met while using the store, as the StoreError callers see: what failed,
    where, the cause (with its errno name) and what it means for the data."""
    text = f"cannot {action} the JSON store at {where}: {describe(exc)}"
    return BackendUnavailableError(text + (f"; {outcome}" if outcome else ""))


def describe(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the cause, with its errno name."""
    code = errno.errorcode.get(exc.errno or 0)
    return (exc.strerror or str(exc)) + (f" ({code})" if code else "")


def _read_whole(fd: int, st: os.stat_result) -> tuple[bytes, os.stat_result]:
    """The file's bytes (``st``: its fstat before reading) and its stat after."""
    chunks = [os.read(fd, st.st_size + 1)]
    while len(chunks[-1]) > st.st_size and chunks[-1]:  # grew meanwhile
        more = os.read(fd, 1 << 16)
        if not more:
            break
        chunks.append(more)
    return (b"".join(chunks) if len(chunks) > 1 else chunks[0]), st


def _why_corrupt(doc: Any, id: str) -> Optional[str]:
    """What is wrong with a parsed record file (None: nothing)."""
    if not isinstance(doc, dict):
        return f"not a JSON object but {type(doc).__name__}"
    if doc.get("id") != id:
        return f"its id is {doc.get('id')!r}, not {id!r}"
    version = doc.get("_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return f"its _version is {version!r}, not a positive integer"
    return None


def corrupt(table: str, id: str, path: str, why: str) -> CorruptRecordError:
    return CorruptRecordError(f"corrupt record {table}:{id} at {path}: {why}", path)


def _lstat_key(path: str) -> Optional[StatKey]:
    try:
        return stat_key(os.lstat(path))
    except OSError:
        return None


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # (a FIFO: no hang)
_WRITE_FLAGS = os.O_WRONLY | _NOFOLLOW


class RecordFiles:
    """The record files of one project directory (mixed into the backend: ``self._dir``).
    The read and write methods are the seams tests and recovery go through."""

    _dir: str
    _real_dirs: set  # tables whose directory was checked to be a real one

    def _path(self, table: str, id: str) -> str:
        return f"{self._dir}/{table}/{id}.json"

    def _read_file(self, table: str, id: str) -> tuple[Any, Optional[StatKey]]:
        """(doc | None | CorruptRecordError, stat key or None). Symbolic links are refused,
        never followed; so is anything but a regular file."""
        path = self._path(table, id)
        try:
            fd = os.open(path, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        except OSError as exc:
            link = exc.errno == errno.ELOOP
            reason = (
                "is a symbolic link (not followed)" if link else f"cannot be read: {describe(exc)}"
            )
            return corrupt(table, id, path, reason), _lstat_key(path)
        try:
            st = os.fstat(fd)
            if not S_ISREG(st.st_mode):  # a directory (say) in a record's place
                return corrupt(table, id, path, "is not a file"), stat_key(st)
            data, st = _read_whole(fd, st)
        except OSError as exc:
            return corrupt(table, id, path, f"cannot be read: {describe(exc)}"), None
        finally:
            os.close(fd)
        key = stat_key(st)
        try:
            doc = decode(data)
        except ValueError as exc:  # includes UnicodeDecodeError, NaN and Infinity
            return corrupt(table, id, path, f"is not JSON: {exc}"), key
        except RecursionError:
            return corrupt(table, id, path, "is nested too deeply to read"), key
        why = _why_corrupt(doc, id)
        if why is None:
            return doc, key
        return corrupt(table, id, path, why), key

    def _check_table_dir(self, table: str) -> None:
        """A table directory must be a real directory, never a symbolic link to elsewhere
        (checked once per process and table; a missing one is created 0700 when needed)."""
        if table in self._real_dirs:
            return
        path = os.path.join(self._dir, table)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not S_ISDIR(st.st_mode):
            raise CorruptRecordError(
                f"table {table} at {path} is not a directory (symbolic links are not followed)",
                path,
            )
        self._real_dirs.add(table)

    def _write_record(
        self, table: str, id: str, data: bytes, old_size: Optional[int], want_key: bool = True
    ) -> Optional[StatKey]:
        """Write a record file in place -- no ``O_TRUNC`` and no rename, both of which make ext4
        flush the file (``auto_da_alloc``) -- and return its stat key (if ``want_key``).
        ``old_size``: the file's size if it exists, else None. A reader or a crash can meet a
        half-written file: the commit is pending then, and the log line rebuilds it."""
        fd, created, old_size = self._open_record(table, id, old_size)
        try:
            write_all(fd, data)
            if not created and (old_size is None or old_size > len(data)):
                os.ftruncate(fd, len(data))
            if created:  # whatever the umask took away
                os.fchmod(fd, FILE_MODE)
            st = os.fstat(fd) if want_key else None
        finally:
            os.close(fd)
        return None if st is None else stat_key(st)

    def _open_record(
        self, table: str, id: str, old_size: Optional[int]
    ) -> tuple[int, bool, Optional[int]]:
        """(fd open for writing, created, old size as far as known)."""
        path = self._path(table, id)
        if old_size is not None:
            try:
                return os.open(path, _WRITE_FLAGS), False, old_size
            except FileNotFoundError:
                pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            try:
                return os.open(path, flags, FILE_MODE), True, None
            except FileNotFoundError:  # the table's first record
                mkdir(os.path.join(self._dir, table))
                return os.open(path, flags, FILE_MODE), True, None
        except FileExistsError:  # appeared meanwhile (by hand): overwrite it, never a link
            return os.open(path, _WRITE_FLAGS), False, None

    def _delete_record(self, table: str, id: str) -> None:
        try:
            os.unlink(self._path(table, id))
        except (FileNotFoundError, NotADirectoryError):
            pass

    def _record_names(self, table: str) -> list[str]:
        ids = []
        try:
            with os.scandir(os.path.join(self._dir, table)) as it:
                for entry in it:
                    name = entry.name
                    if name.endswith(".json"):
                        id = name[:-5]
                        if ID_RE.fullmatch(id) and id not in (".", ".."):
                            ids.append(id)  # (a non-file is listed: reading it says corrupt)
        except (FileNotFoundError, NotADirectoryError):
            pass
        return ids
