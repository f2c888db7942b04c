"""JSON files guarded by a file lock: the zero-setup default backend.

Layout (stable, meant to be read by people)::

    <root>/<project>/<table>/<id>.json       one record: {"id": ..., "_version": ..., fields...}
    <root>/<project>/.meta/lock              the writers' lock file (flock, as filelock takes it)
    <root>/<project>/.meta/boot              the boot id under which the record files were last
                                             known to hold every commit of the log
    <root>/<project>/.meta/log/<seq>.jsonl   the commit log, in segments named by their first
                                             commit number (20 digits); closed segments whose
                                             record files are known synced are gzip-compressed
                                             in the background to <seq>.jsonl.gz (zcat reads it)
    <root>/<project>/.meta/compress.lock     held by the one process compressing segments
    <root>/<project>/.meta/mail/<pid>-<hex>  a writer's batch posted for the next lock holder
    <root>/<project>/.meta/snapshot/<table>  a cache of the table's documents and record-file
                                             stat keys at a log position, for the first scan
                                             after an open (never the truth: files + log are)
    <root>/<project>/.meta/synced, pruned,   small state files (see retention, recovery);
           head, indexes.json                the declared indexes

The design, one module each:

- :mod:`.files` -- record files: paths, in-place writes, permissions (0700/0600), corruption;
- :mod:`.log` -- the commit log: lines, the fsync policy, following it, ``changes``;
- :mod:`.segments` -- segment files, their plain and compressed forms, the one reader of both;
- :mod:`.recovery` -- finishing a dead writer's commit; replay after a reboot; a lost log tail;
- :mod:`.retention` -- the synced mark (background ``syncfs``), compression, pruning, compaction;
- :mod:`.locking` -- the writers' lock (RLock + ``flock``; ``filelock`` without ``fcntl``);
- :mod:`.cache` -- the reader cache and its seqlock (lock-free, commit-atomic reads);
- :mod:`.indexes`, :mod:`.search` -- in-memory indexes; ``find``/``count`` through them;
- :mod:`.snapshot` -- the per-table snapshot a first scan after an open starts from;
- :mod:`.commit` -- the commit in named phases: read, verify, stage, log, apply, publish;
- :mod:`.group` -- group commit among one process's threads (one line, one fsync per batch);
- :mod:`.mailbox` -- group commit across processes (batches posted for the next lock holder);
- :mod:`.backend` -- :class:`JsonBackend`, which composes them, and :func:`open_backend`.

Known limitations: POSIX only (``os.pread``; Windows is not supported yet); one machine (``flock``
and the page cache are what make lock-free reads consistent: no network filesystems); on macOS
``fsync`` does not flush the drive's cache (no ``F_FULLFSYNC``); the log keeps every version of
every record (closed segments compressed, ~7x on typical records) until ``prune_changes`` lets
whole segments go; ids differing only in case collide on case-insensitive filesystems; the
symlink checks on table directories are made once per process and table (a directory swapped
for a link afterwards is not noticed); with ``durable=False`` a power cut may lose recent
commits and leave the record files of lost commits behind (a process crash loses nothing).

The tunables below are read from this package at run time (set them here, e.g. in tests).
"""

from __future__ import annotations

from typing import Any

#: a log segment is closed (and the record files synced) once it has grown past this size
SEGMENT_BYTES = 4 << 20
#: the zlib level closed log segments are compressed at, in the background (1 fastest, 9 smallest)
COMPRESS_LEVEL = 6
#: a reader that has seen a commit pending this long checks whether its writer died
STALE_PENDING_SECONDS = 0.25

from .backend import JsonBackend, open_backend  # noqa: E402
from .locking import LOCK_POLL_SECONDS, fcntl  # noqa: E402
from .locking import FileLockLock as _FileLockLock  # noqa: E402
from .locking import FlockLock as _FlockLock  # noqa: E402
from .recovery import boot_id as _boot_id  # noqa: E402

#: the inter-process writers' lock (tests switch it to check the fallback)
_LOCK_CLASS: Any = _FlockLock if fcntl is not None else _FileLockLock

__all__ = [
    "JsonBackend",
    "open_backend",
    "SEGMENT_BYTES",
    "COMPRESS_LEVEL",
    "STALE_PENDING_SECONDS",
    "LOCK_POLL_SECONDS",
    "_FileLockLock",
    "_FlockLock",
    "_boot_id",
]
