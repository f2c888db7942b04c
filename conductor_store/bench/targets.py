"""Targets: the backend configurations under test (built-in, or a URL from the command line)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..urls import redact_url, split_scheme
from .results import TargetInfo


@dataclass
class Target:
    """``url`` None: a fresh location per use under the session's temporary directory;
    otherwise every use gets its own project there.

    ``family``: json | json-nosync | surreal-embedded | surreal-remote | custom."""

    name: str
    scheme: str
    family: str
    url: str | None = None
    options: dict = field(default_factory=dict)
    durable: bool = True
    multiprocess: bool = True
    persistent: bool = True
    description: str = ""

    @property
    def shown_url(self) -> str:
        return redact_url(self.url) if self.url else f"{self.scheme}://<temp>"

    @property
    def is_json(self) -> bool:
        return self.family in ("json", "json-nosync")

    def info(self) -> TargetInfo:
        return TargetInfo(self.name, self.shown_url, self.family, self.description)


def builtin_targets() -> list[Target]:
    return [
        Target(
            "json",
            "json",
            "json",
            options={"durable": True},
            description="JSON files, durable=True",
        ),
        Target(
            "json-nosync",
            "json",
            "json-nosync",
            options={"durable": False},
            durable=False,
            description="JSON files, durable=False",
        ),
        Target(
            "surrealdb-mem",
            "mem",
            "surreal-embedded",
            durable=False,
            multiprocess=False,
            persistent=False,
            description="embedded SurrealDB in memory (mem://)",
        ),
        Target(
            "surrealkv",
            "surrealkv",
            "surreal-embedded",
            multiprocess=False,
            description="embedded SurrealDB on disk (surrealkv://)",
        ),
    ]


def target_from_url(url: str) -> Target:
    """A target for a URL given on the command line (any registered scheme)."""
    scheme, _ = split_scheme(url)
    name = redact_url(url)
    if scheme == "json":
        return Target(name, "json", "json", url=url, description="JSON files at the given path")
    if scheme in ("mem", "memory"):
        return Target(
            name,
            scheme,
            "surreal-embedded",
            url=url,
            durable=False,
            multiprocess=False,
            persistent=False,
            description="embedded SurrealDB in memory",
        )
    if scheme in ("surrealkv", "file"):
        return Target(
            name,
            scheme,
            "surreal-embedded",
            url=url,
            multiprocess=False,
            description="embedded SurrealDB on disk",
        )
    if scheme in ("ws", "wss", "http", "https"):
        return Target(name, scheme, "surreal-remote", url=url, description="remote SurrealDB")
    return Target(name, scheme, "custom", url=url, description=f"custom backend ({scheme}://)")
