"""The sync methods of StoreSaver, on every backend (LangGraph's suite calls only the async
ones), and what the saver promises beyond the interface: one commit per call, no duplicated
writes, values stored once per channel version, data kept across reopening."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.base import ERROR, INTERRUPT
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)

import conductor_store as cs
from conductor_store.langgraph import StoreSaver
from conductor_store.langgraph.saver import BLOBS, CHECKPOINTS, WRITES


@pytest.fixture
def saver(url):
    with StoreSaver.from_url(url) as s:
        yield s


def put_chain(saver, thread, n, *, ns="", **metadata):
    """``n`` checkpoints on ``thread``, each the child of the previous; their configs."""
    configs, parent = [], None
    for step in range(n):
        config = generate_config(thread, checkpoint_ns=ns)
        if parent:
            config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        cp = generate_checkpoint(channel_values={"n": step}, channel_versions={"n": step + 1})
        parent = saver.put(config, cp, generate_metadata(step=step, **metadata), {"n": step + 1})
        configs.append(parent)
    return configs


def ids(tuples):
    return [t.config["configurable"]["checkpoint_id"] for t in tuples]


def test_get_tuple_latest_and_by_id(saver):
    first, second = put_chain(saver, "t1", 2)
    latest = saver.get_tuple(generate_config("t1"))
    assert latest.config == second
    assert latest.checkpoint["channel_values"] == {"n": 1}
    assert latest.parent_config == first
    assert saver.get_tuple(first).checkpoint["channel_values"] == {"n": 0}
    assert saver.get_tuple(generate_config("nobody")) is None


def test_list_is_newest_first_with_filter_before_and_limit(saver):
    configs = put_chain(saver, "t1", 5, source="loop")
    put_chain(saver, "t2", 2)
    newest_first = [c["configurable"]["checkpoint_id"] for c in reversed(configs)]
    assert ids(saver.list(generate_config("t1"))) == newest_first
    assert ids(saver.list(generate_config("t1"), limit=2)) == newest_first[:2]
    assert ids(saver.list(generate_config("t1"), before=configs[2])) == newest_first[3:]
    assert ids(saver.list(generate_config("t1"), filter={"step": 3})) == [newest_first[1]]
    assert ids(saver.list(generate_config("t1"), filter={"step": 3, "source": "x"})) == []
    assert len(list(saver.list(None))) == 7


def test_put_writes_is_idempotent_and_special_channels_replace(saver):
    (config,) = put_chain(saver, "t1", 1)
    saver.put_writes(config, [("a", 1), ("b", 2)], task_id="task1", task_path="p")
    saver.put_writes(config, [("a", 99), ("b", 98)], task_id="task1", task_path="p")  # retried
    saver.put_writes(config, [(ERROR, "first")], task_id="task1")
    saver.put_writes(config, [(ERROR, "second"), (INTERRUPT, "stop")], task_id="task1")
    writes = saver.get_tuple(config).pending_writes
    assert sorted(writes) == sorted(
        [
            ("task1", "a", 1),
            ("task1", "b", 2),
            ("task1", ERROR, "second"),
            ("task1", INTERRUPT, "stop"),
        ]
    )
    assert saver.store.count(WRITES) == 4


def test_unchanged_channel_values_are_stored_once(saver):
    config = generate_config("t1")
    cp = generate_checkpoint(
        channel_values={"big": "x" * 1000, "n": 0}, channel_versions={"big": 1, "n": 1}
    )
    first = saver.put(config, cp, generate_metadata(), {"big": 1, "n": 1})
    config = generate_config("t1", checkpoint_id=first["configurable"]["checkpoint_id"])
    cp = generate_checkpoint(
        channel_values={"big": "x" * 1000, "n": 1}, channel_versions={"big": 1, "n": 2}
    )
    second = saver.put(config, cp, generate_metadata(step=1), {"n": 2})
    assert saver.store.count(BLOBS) == 3  # big@1, n@1, n@2
    assert saver.get_tuple(second).checkpoint["channel_values"] == {"big": "x" * 1000, "n": 1}


def test_put_is_one_commit(saver):
    before = saver.store.changes()
    put_chain(saver, "t1", 1)
    seqs = {c.seq for c in saver.store.changes(since=before[-1].seq if before else 0)}
    assert len(seqs) == 1


def test_delete_thread_copy_thread_prune_and_delete_for_runs(saver):
    put_chain(saver, "keep", 2)
    configs = put_chain(saver, "src", 3)
    saver.put_writes(configs[-1], [("a", 1)], task_id="t")
    saver.copy_thread("src", "dst")
    assert ids(saver.list(generate_config("dst"))) == ids(saver.list(generate_config("src")))
    assert saver.get_tuple(generate_config("dst")).pending_writes == [("t", "a", 1)]

    saver.prune(["dst"], strategy="keep_latest")
    (kept,) = saver.list(generate_config("dst"))
    assert kept.checkpoint["channel_values"] == {"n": 2}
    assert kept.pending_writes == [("t", "a", 1)]

    saver.delete_thread("src")
    assert list(saver.list(generate_config("src"))) == []
    assert saver.store.find(WRITES, {"thread_id": "src"}) == []
    assert saver.store.find(BLOBS, {"thread_id": "src"}) == []
    assert len(list(saver.list(generate_config("keep")))) == 2

    run_a = put_chain(saver, "runs", 1, run_id="run-a")
    put_chain(saver, "runs", 1, run_id="run-b")
    saver.delete_for_runs(["run-a"])
    left = list(saver.list(generate_config("runs")))
    assert [t.metadata["run_id"] for t in left] == ["run-b"]
    assert saver.get_tuple(run_a[0]) is None

    saver.prune(["keep"], strategy="delete")
    assert list(saver.list(generate_config("keep"))) == []
    with pytest.raises(ValueError, match="strategy"):
        saver.prune(["runs"], strategy="keep_some")


def test_values_come_back_as_the_serializer_gives_them(saver):
    """The saver stores the serializer's (type, bytes) faithfully: a value reads back exactly
    as a dumps/loads of the saver's serde gives it (msgpack turns tuples into lists)."""
    values = {"bytes": b"\x00\xffraw", "tuple": (1, "a"), "set": {1, 2}, "nested": {"k": [1.5]}}
    versions = {k: 1 for k in values}
    config = saver.put(
        generate_config("t1"),
        generate_checkpoint(channel_values=values, channel_versions=versions),
        generate_metadata(),
        versions,
    )
    expected = {k: saver.serde.loads_typed(saver.serde.dumps_typed(v)) for k, v in values.items()}
    assert saver.get_tuple(config).checkpoint["channel_values"] == expected
    assert expected["bytes"] == b"\x00\xffraw" and expected["set"] == {1, 2}


def test_checkpoints_survive_reopening_and_stay_in_their_project(persistent_url):
    url = persistent_url
    with StoreSaver.from_url(url, project="alpha") as saver:
        (config,) = put_chain(saver, "t1", 1)
    with StoreSaver.from_url(url, project="alpha") as saver:
        assert saver.get_tuple(generate_config("t1")).config == config
    with StoreSaver.from_url(url, project="beta") as saver:
        assert saver.get_tuple(generate_config("t1")) is None
        assert saver.store.count(CHECKPOINTS) == 0


def test_a_failed_put_writes_nothing(saver):
    class Unserialisable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    config = generate_config("t1")
    cp = generate_checkpoint(
        channel_values={"ok": 1, "bad": Unserialisable()}, channel_versions={"ok": 1, "bad": 1}
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever the serializer raises
        saver.put(config, cp, generate_metadata(), {"ok": 1, "bad": 1})
    assert saver.store.tables() == []


def test_the_store_can_be_passed_in(url):
    with cs.open(url, project="given") as store:
        saver = StoreSaver(store)
        put_chain(saver, "t1", 1)
        assert store.count(CHECKPOINTS) == 1
