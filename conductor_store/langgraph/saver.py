"""LangGraph's ``BaseCheckpointSaver`` on a conductor-store :class:`~conductor_store.Store`.

Three tables hold a saver's data, keyed like LangGraph's SQL savers:

``lg_checkpoints``  one record per (thread, namespace, checkpoint id): the serialised checkpoint
                    without its channel values, its metadata, its parent, and ``run_id``;
``lg_blobs``        one record per (thread, namespace, channel, version): a channel's value,
                    written only when its version is new, so unchanged values are not copied;
``lg_writes``       one record per (thread, namespace, checkpoint id, task id, index): the
                    pending writes of a task.

Every value goes through the saver's ``serde`` and is kept as ``[type, base64]``. Each ``put``
and each ``put_writes`` is one commit (a crash leaves the checkpoint whole or absent), and
``put_writes`` is idempotent per (task id, index) like the reference savers: a retried call
never duplicates a write, while the special channels (ERROR, INTERRUPT, ...) replace theirs.
The async methods run the sync ones in a worker thread, so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
)

from ..store import Store, Transaction
from ..store import open as open_store
from ._keys import key_id, pack, unpack

CHECKPOINTS, BLOBS, WRITES = "lg_checkpoints", "lg_blobs", "lg_writes"
#: how checkpoints and writes are looked up (and indexed): thread, namespace, checkpoint id
KEY_FIELDS = ("thread_id", "checkpoint_ns", "checkpoint_id")


def _thread_where(thread_id: str, ns: str | None = None, checkpoint_id: str | None = None) -> dict:
    where: dict[str, Any] = {"thread_id": thread_id}
    if ns is not None:
        where["checkpoint_ns"] = ns
    if checkpoint_id is not None:
        where["checkpoint_id"] = checkpoint_id
    return where


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


class StoreSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer keeping its data in ``store`` (any backend, the store's
    project). ``StoreSaver.from_url(url, project=...)`` opens and closes a store for you."""

    def __init__(self, store: Store, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.store = store
        for table, fields in (
            (CHECKPOINTS, KEY_FIELDS),
            (WRITES, KEY_FIELDS),
            (BLOBS, KEY_FIELDS[:1]),
        ):
            store.ensure_index(table, fields)  # idempotent: lookups stay cheap as threads grow

    @classmethod
    @contextmanager
    def from_url(cls, url: str | None = None, **options: Any) -> Iterator[StoreSaver]:
        """``with StoreSaver.from_url("mem://") as saver:`` -- the store is closed on exit."""
        with open_store(url, **options) as store:
            yield cls(store)

    # -- reads ---------------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            doc = self.store.get(CHECKPOINTS, key_id(thread_id, ns, checkpoint_id))
        else:
            latest = self.store.find(
                CHECKPOINTS, _thread_where(thread_id, ns), order_by="-checkpoint_id", limit=1
            )
            doc = latest[0] if latest else None
        return None if doc is None else self._tuple(doc)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by checkpoint id), narrowed by ``config`` (thread,
        namespace, checkpoint id), ``filter`` (metadata equal on every key), ``before``
        (older than that checkpoint) and ``limit``."""
        clauses, params = [], {}
        conf = config["configurable"] if config else {}
        for field in KEY_FIELDS:
            if conf.get(field) is not None:
                clauses.append(f"{field} = :{field}")
                params[field] = conf[field]
        before_id = get_checkpoint_id(before) if before else None
        if before_id:
            clauses.append("checkpoint_id < :before")
            params["before"] = before_id
        docs = self.store.find(
            CHECKPOINTS,
            " AND ".join(clauses) or None,
            params=params,
            order_by=["-checkpoint_id", "-thread_id", "-checkpoint_ns"],
            limit=None if filter else limit,
        )
        left = limit
        for doc in docs:
            if left is not None and left <= 0:
                return
            metadata = self.serde.loads_typed(unpack(doc["metadata"]))
            if filter and any(metadata.get(k) != v for k, v in filter.items()):
                continue
            if left is not None:
                left -= 1
            yield self._tuple(doc, metadata)

    def _tuple(self, doc: dict, metadata: Any = None) -> CheckpointTuple:
        thread_id, ns, checkpoint_id = doc["thread_id"], doc["checkpoint_ns"], doc["checkpoint_id"]
        checkpoint = self.serde.loads_typed(unpack(doc["checkpoint"]))
        versions = checkpoint.get("channel_versions", {})
        blob_ids = [key_id(thread_id, ns, ch, v) for ch, v in versions.items()]
        values = {}
        for blob in self.store.get_many(BLOBS, blob_ids):
            if blob["value"][0] != "empty":
                values[blob["channel"]] = self.serde.loads_typed(unpack(blob["value"]))
        writes = sorted(
            self.store.find(WRITES, _thread_where(thread_id, ns, checkpoint_id)),
            key=lambda w: (w["task_path"], w["task_id"], w["idx"]),
        )
        parent = doc.get("parent_checkpoint_id")
        return CheckpointTuple(
            config=_config(thread_id, ns, checkpoint_id),
            checkpoint={**checkpoint, "channel_values": values},  # type: ignore[typeddict-item]
            metadata=(
                metadata
                if metadata is not None
                else self.serde.loads_typed(unpack(doc["metadata"]))
            ),
            parent_config=_config(thread_id, ns, parent) if parent else None,
            pending_writes=[
                (w["task_id"], w["channel"], self.serde.loads_typed(unpack(w["value"])))
                for w in writes
            ],
        )

    # -- writes --------------------------------------------------------------------------
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of its new channel versions in one commit."""
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        body: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = body.pop("channel_values", {})
        full_metadata = get_checkpoint_metadata(config, metadata)
        run_id = full_metadata.get("run_id")
        with self.store.transaction() as tx:
            for channel, version in new_versions.items():
                typed = self.serde.dumps_typed(values[channel]) if channel in values else None
                tx.put(
                    BLOBS,
                    key_id(thread_id, ns, channel, version),
                    {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "channel": channel,
                        "version": version,
                        "value": pack(typed) if typed else ["empty", ""],
                    },
                )
            tx.put(
                CHECKPOINTS,
                key_id(thread_id, ns, checkpoint["id"]),
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint["id"],
                    "parent_checkpoint_id": conf.get("checkpoint_id"),
                    "run_id": run_id if isinstance(run_id, str) else None,
                    "checkpoint": pack(self.serde.dumps_typed(body)),
                    "metadata": pack(self.serde.dumps_typed(full_metadata)),
                },
            )
        return _config(thread_id, ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes in one commit. A write already stored for (task, index) is
        kept (a retried call adds nothing); special channels replace theirs."""
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        checkpoint_id = conf["checkpoint_id"]

        def write(tx: Transaction) -> None:
            for i, (channel, value) in enumerate(writes):
                idx = WRITES_IDX_MAP.get(channel, i)
                rid = key_id(thread_id, ns, checkpoint_id, task_id, idx)
                if idx >= 0 and tx.get(WRITES, rid) is not None:
                    continue
                tx.put(
                    WRITES,
                    rid,
                    {
                        "thread_id": thread_id,
                        "checkpoint_ns": ns,
                        "checkpoint_id": checkpoint_id,
                        "task_id": task_id,
                        "task_path": task_path,
                        "idx": idx,
                        "channel": channel,
                        "value": pack(self.serde.dumps_typed(value)),
                    },
                )

        self.store.atomic(write)

    def delete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint, value and write of the thread (all namespaces)."""

        def delete(tx: Transaction) -> None:
            for table in (CHECKPOINTS, BLOBS, WRITES):
                for doc in tx.find(table, {"thread_id": thread_id}):
                    tx.delete(table, doc["id"])

        self.store.atomic(delete)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the checkpoints made by these runs, with their writes and the values no
        remaining checkpoint refers to."""
        if not run_ids:
            return

        def delete(tx: Transaction) -> None:
            doomed = tx.find(CHECKPOINTS, "run_id IN :runs", params={"runs": list(run_ids)})
            for doc in doomed:
                self._drop_checkpoint(tx, doc)
            for thread_id in {d["thread_id"] for d in doomed}:
                self._drop_unused_blobs(tx, thread_id)

        self.store.atomic(delete)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, value and write of one thread to another, in one commit."""

        def copy(tx: Transaction) -> None:
            for table, key in (
                (CHECKPOINTS, ("checkpoint_ns", "checkpoint_id")),
                (BLOBS, ("checkpoint_ns", "channel", "version")),
                (WRITES, ("checkpoint_ns", "checkpoint_id", "task_id", "idx")),
            ):
                for doc in tx.find(table, {"thread_id": source_thread_id}):
                    body = {k: v for k, v in doc.items() if k not in ("id", "_version")}
                    body["thread_id"] = target_thread_id
                    tx.put(table, key_id(target_thread_id, *(doc[k] for k in key)), body)

        self.store.atomic(copy)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: keep only the newest checkpoint of each namespace of each thread
        (with its writes and values); ``delete``: remove the threads entirely."""
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}: keep_latest or delete")
        for thread_id in thread_ids:
            if strategy == "delete":
                self.delete_thread(thread_id)
            else:
                self.store.atomic(partial(self._keep_latest, thread_id=thread_id))

    def _keep_latest(self, tx: Transaction, *, thread_id: str) -> None:
        newest: dict[str, str] = {}
        docs = tx.find(CHECKPOINTS, {"thread_id": thread_id})
        for doc in docs:
            ns = doc["checkpoint_ns"]
            newest[ns] = max(newest.get(ns, ""), doc["checkpoint_id"])
        for doc in docs:
            if doc["checkpoint_id"] != newest[doc["checkpoint_ns"]]:
                self._drop_checkpoint(tx, doc)
        self._drop_unused_blobs(tx, thread_id)

    @staticmethod
    def _drop_checkpoint(tx: Transaction, doc: dict) -> None:
        tx.delete(CHECKPOINTS, doc["id"])
        where = _thread_where(doc["thread_id"], doc["checkpoint_ns"], doc["checkpoint_id"])
        for write in tx.find(WRITES, where):
            tx.delete(WRITES, write["id"])

    def _drop_unused_blobs(self, tx: Transaction, thread_id: str) -> None:
        used = set()
        for doc in tx.find(CHECKPOINTS, {"thread_id": thread_id}):
            checkpoint = self.serde.loads_typed(unpack(doc["checkpoint"]))
            for channel, version in checkpoint.get("channel_versions", {}).items():
                used.add(key_id(thread_id, doc["checkpoint_ns"], channel, version))
        for blob in tx.find(BLOBS, {"thread_id": thread_id}):
            if blob["id"] not in used:
                tx.delete(BLOBS, blob["id"])

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Versions sort as strings: a zero-padded counter, then a random tie-breaker."""
        if current is None:
            n = 0
        elif isinstance(current, int):
            n = current
        else:
            n = int(current.split(".")[0])
        return f"{n + 1:032}.{random.random():016}"

    # -- async twins: the sync methods in a worker thread ---------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        found = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(lambda: self.prune(thread_ids, strategy=strategy))


class AsyncStoreSaver(StoreSaver):
    """The same saver for async code: ``async with AsyncStoreSaver.from_url(url) as saver``."""

    @classmethod
    @asynccontextmanager
    async def from_url(  # type: ignore[override]
        cls, url: str | None = None, **options: Any
    ) -> AsyncIterator[AsyncStoreSaver]:
        store = await asyncio.to_thread(open_store, url, **options)
        try:
            yield cls(store)
        finally:
            await asyncio.to_thread(store.close)
