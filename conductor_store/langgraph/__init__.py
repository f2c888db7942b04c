"""LangGraph on conductor-store: a checkpointer and a key-value store on any backend.

Install the extra (``pip install 'conductor-store[langgraph]'``), then::

    import conductor_store as cs
    from conductor_store.langgraph import StoreSaver

    saver = StoreSaver(cs.open("surrealkv:///var/lib/app/db", project="agents"))
    graph = builder.compile(checkpointer=saver)

:class:`StoreSaver` implements LangGraph's ``BaseCheckpointSaver`` in full (sync and async,
including ``delete_for_runs``, ``copy_thread`` and ``prune``); :class:`StoreBackedStore`
implements ``BaseStore`` (namespaced items, filters, optional semantic search). Both keep their
data in ordinary tables of the store (``lg_*``), each ``put`` one commit. The LangGraph
packages are imported only when this module is.
"""

from __future__ import annotations

try:
    import langgraph.checkpoint.base  # noqa: F401
    import langgraph.store.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "conductor_store.langgraph needs LangGraph: pip install 'conductor-store[langgraph]'"
    ) from exc

from .items import StoreBackedStore
from .saver import AsyncStoreSaver, StoreSaver

__all__ = ["AsyncStoreSaver", "StoreBackedStore", "StoreSaver"]
