"""SurrealDB backends: embedded in memory, embedded on disk, or a remote server.

URLs::

    mem://                 a private in-memory database (gone when the store closes)
    mem://NAME             an in-memory database shared by every open of NAME in this process
    memory://[NAME]        the same
    surrealkv:///abs/path  embedded on disk (one process at a time; shared within a process)
    file:///abs/path       the same
    ws://[user[:pass]@]host:port[/rpc], wss://...   a SurrealDB server

Options (keyword arguments of :func:`conductor_store.open`; each overrides its variable):

==================  =========================  ==============================================
option              environment                default
==================  =========================  ==============================================
``namespace``       ``SURREAL_NAMESPACE``      ``orchestrator``
``database``        ``SURREAL_DATABASE``       the project; ``default`` for the default project
``user``            ``SURREAL_USER``           from the URL, else none (no sign-in)
``password``        ``SURREAL_PASS``           from the URL
``auth_level``      ``SURREAL_AUTH_LEVEL``     ``root`` (or ``namespace``, ``database``)
``pool_size``       ``SURREAL_POOL_SIZE``      5 (remote connections)
``timeout``         ``SURREAL_TIMEOUT``        10 seconds (connect, each request)
``durable``         ``SURREAL_SYNC_DATA``      True (on disk: fsync every commit)
``live_queries``    ``SURREAL_LIVE_QUERIES``   False (accepted, not used yet)
==================  =========================  ==============================================

Nothing here imports ``surrealdb`` until a store is opened.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from ...errors import ValidationError
from ...urls import redact_url
from .backend import SurrealBackend

__all__ = ["open_backend", "SurrealBackend", "WsUrl", "ws_url"]

_OPTIONS = {
    "namespace", "database", "user", "password", "auth_level", "pool_size", "timeout",
    "durable", "live_queries",
}  # fmt: skip
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _pick(options: dict, name: str, env: str, default: Any) -> Any:
    value = options.get(name)
    if value is None:
        value = _env(env)
    return default if value is None else value


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValidationError(f"{what} must be a boolean, not {value!r}")


def _number(value: Any, what: str, kind: type, minimum: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be a number, not {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise ValidationError(f"{what} must be >= {minimum}, not {value!r}")
    return number


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or not set(value) <= _NAME_OK or len(value) > 64:
        raise ValidationError(f"{what} must be 1-64 letters, digits, '_' or '-', not {value!r}")
    return value


def _only_known(given: Any, known: Any, what: str) -> None:
    """The one "unknown option" check: ``given`` names must all be in ``known``."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValidationError(
            f"unknown {what}: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )


def open_backend(url: str, *, project: str, **options: Any) -> SurrealBackend:
    _only_known(options, _OPTIONS, "option(s) for a SurrealDB store")
    url, query = _split_query(url)
    for key, value in query.items():
        options.setdefault(key, value)
    scheme = url.split("://", 1)[0].lower()
    namespace = _name(
        options.get("namespace") or _env("SURREAL_NAMESPACE") or "orchestrator", "namespace"
    )
    if project == "default":
        database = options.get("database") or _env("SURREAL_DATABASE") or "default"
    else:
        database = project
    database = _name(database, "database")
    live = options.get("live_queries")
    live = _bool(
        live if live is not None else (_env("SURREAL_LIVE_QUERIES") or "false"), "live_queries"
    )
    if scheme in ("ws", "wss"):
        return _open_remote(url, namespace, database, live, options)
    if scheme in ("mem", "memory"):
        return _open_memory(url, namespace, database, live, options)
    if scheme in ("surrealkv", "file"):
        return _open_disk(url, namespace, database, live, options)
    raise ValidationError(f"not a SurrealDB URL: {redact_url(url)}")


def _split_query(url: str) -> tuple[str, dict]:
    """``url?namespace=x&database=y`` -> (url, options); the query names no secrets."""
    if "?" not in url:
        return url, {}
    base, _, text = url.partition("?")
    aliases = {"ns": "namespace", "db": "database"}
    given = parse_qs(text, keep_blank_values=True)
    _only_known(given, ("namespace", "ns", "database", "db", "auth_level"), "URL parameter(s)")
    return base, {aliases.get(key, key): values[-1] for key, values in given.items()}


def _refuse(options: dict, names: tuple, where: str) -> None:
    given = [n for n in names if options.get(n) is not None]
    if given:
        raise ValidationError(f"option(s) {', '.join(given)} do not apply to {where}")


def _open_memory(
    url: str, namespace: str, database: str, live: bool, options: dict
) -> SurrealBackend:
    from .embedded import acquire

    _refuse(options, ("user", "password", "auth_level"), "an embedded store")
    rest = url.split("://", 1)[1]
    name = rest.strip("/") or None
    if name is not None and not set(name) <= _NAME_OK | {"."}:
        raise ValidationError(f"memory store names are letters, digits, '_', '-' and '.': {url!r}")
    engine = acquire("mem", name, None)
    return _embedded_backend(
        engine,
        "surrealdb-mem",
        f"mem://{name or ''}",
        namespace,
        database,
        {"engine": "memory", "durable": False, "shared": name is not None, "live_queries": live},
    )


def _open_disk(
    url: str, namespace: str, database: str, live: bool, options: dict
) -> SurrealBackend:
    from .embedded import acquire, env_sync, process_sync_state

    _refuse(options, ("user", "password", "auth_level"), "an embedded store")
    rest = url.split("://", 1)[1]
    if not rest or rest.startswith("?"):
        raise ValidationError(f"{url!r} names no path (write surrealkv:///absolute/path)")
    path = os.path.realpath(os.path.abspath(os.path.expanduser(unquote(rest))))
    durable = options.get("durable")
    if durable is None:
        durable = env_sync()
    durable = True if durable is None else _bool(durable, "durable")
    engine = acquire("kv", path, durable)
    return _embedded_backend(
        engine,
        "surrealdb-kv",
        f"surrealkv://{path}",
        namespace,
        database,
        {
            "engine": "surrealkv",
            "path": path,
            "durable": bool(process_sync_state()),
            "live_queries": live,
        },
    )


def _embedded_backend(
    engine, name: str, url: str, namespace: str, database: str, facts: dict
) -> SurrealBackend:
    """A backend over an acquired embedded engine; the engine is released if that fails."""
    from .embedded import EmbeddedTransport, release

    try:
        transport = EmbeddedTransport(engine, namespace, database)
        return SurrealBackend(
            transport, name=name, url=url, namespace=namespace, database=database, facts=facts
        )
    except BaseException:
        release(engine)
        raise


class WsUrl(NamedTuple):
    """A ``ws://`` / ``wss://`` URL taken apart once: ``base`` is ``scheme://host[:port][/path]``
    without a trailing ``/rpc`` (what the SDK's ``Surreal()`` takes; the RPC endpoint is
    ``base + "/rpc"``), ``user``/``password`` come from the URL (unquoted, None if absent)."""

    scheme: str
    netloc: str  # host[:port], IPv6 hosts in brackets, no credentials
    path: str
    user: str | None
    password: str | None

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    def shown(self, user: str | None) -> str:
        """The URL as shown to people: the user, never the password."""
        return f"{self.scheme}://{user + '@' if user else ''}{self.netloc}{self.path}"


def ws_url(url: str) -> WsUrl:
    """Parse a SurrealDB server URL (the one place that does; ``bench`` uses it too)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"bad SurrealDB URL {redact_url(url)}: {exc}") from None
    if not parts.hostname:
        raise ValidationError(f"{redact_url(url)} names no host")
    path = parts.path.rstrip("/")
    if path.endswith("/rpc"):
        path = path[: -len("/rpc")]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return WsUrl(
        parts.scheme,
        host + (f":{port}" if port else ""),
        path,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
    )


def _open_remote(
    url: str, namespace: str, database: str, live: bool, options: dict
) -> SurrealBackend:
    from .remote import RemoteTransport

    if options.get("durable") is not None:
        _bool(options["durable"], "durable")  # the server decides; accepted for symmetry
    where = ws_url(url)
    user = options.get("user") or where.user or _env("SURREAL_USER")
    password = options.get("password")
    if password is None:
        password = where.password if where.password is not None else _env("SURREAL_PASS")
    level = (options.get("auth_level") or _env("SURREAL_AUTH_LEVEL") or "root").lower()
    if level not in ("root", "namespace", "database"):
        raise ValidationError(f"auth_level must be root, namespace or database, not {level!r}")
    pool_size = _number(_pick(options, "pool_size", "SURREAL_POOL_SIZE", 5), "pool_size", int, 1)
    timeout = _number(_pick(options, "timeout", "SURREAL_TIMEOUT", 10), "timeout", float, 0.01)
    endpoint = where.base + "/rpc"
    shown = where.shown(user)
    transport = RemoteTransport(
        endpoint=endpoint,
        shown_url=shown,
        user=user,
        password=password,
        auth_level=level,
        namespace=namespace,
        database=database,
        pool_size=pool_size,
        timeout=timeout,
    )
    return SurrealBackend(
        transport,
        name="surrealdb-ws",
        url=shown,
        namespace=namespace,
        database=database,
        facts={
            "engine": "remote",
            "user": user,
            "auth_level": level,
            "timeout": timeout,
            "live_queries": live,
        },
    )
