"""Looking at a store: ``status``, ``inspect`` and ``doctor``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..messages import describe
from . import output
from .output import json_option, open_store, url_option

ENV_VARS = (
    "CONDUCTOR_STORE_URL", "SURREAL_URL", "SURREAL_NAMESPACE", "SURREAL_DATABASE",
    "SURREAL_USER", "SURREAL_PASS", "SURREAL_AUTH_LEVEL", "SURREAL_POOL_SIZE",
    "SURREAL_TIMEOUT", "SURREAL_SYNC_DATA", "SURREAL_LIVE_QUERIES",
)  # fmt: skip
PROBLEMS = ("corrupt", "unfinished", "torn", "log-mismatch", "missing", "unreadable")


def _location(url: str) -> str:
    from ..urls import split_scheme

    scheme, rest = split_scheme(url)
    if scheme in ("json", "surrealkv", "file"):
        return os.path.abspath(os.path.expanduser(rest)) if rest else "(no path)"
    if scheme in ("mem", "memory"):
        return f"in memory, this process only ({rest or 'private'})"
    return rest.rsplit("@", 1)[-1]


def server_version(url: str, timeout: float = 5.0) -> str | None:
    """A SurrealDB server's version, from the ``version`` RPC (asked without signing in)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return None
    try:
        from surrealdb.data.cbor import decode, encode
        from websockets.sync.client import connect

        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        where = f"{parts.scheme}://{host}:{parts.port or 8000}/rpc"
        with connect(where, subprotocols=["cbor"], open_timeout=timeout) as ws:  # type: ignore[list-item]
            ws.send(encode({"id": 1, "method": "version", "params": []}))
            data = ws.recv(timeout)
            reply = decode(data if isinstance(data, bytes) else data.encode())
        result = reply.get("result") if isinstance(reply, dict) else None
        return str(result) if result else None
    except Exception:  # noqa: BLE001 - no version is an answer too
        return None


def _versions(info: dict, url: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    try:
        sdk = version("surrealdb")
    except PackageNotFoundError:
        sdk = None
    return {
        "conductor-store": __version__,
        "surrealdb-sdk": sdk,
        "server": info.get("server_version") or server_version(url),
        "python": sys.version.split()[0],
    }


def environment() -> dict[str, str]:
    from ..urls import redact_url

    env = {k: os.environ[k] for k in ENV_VARS if os.environ.get(k)}
    return {k: "***" if k.endswith("PASS") else redact_url(v) for k, v in env.items()}


@click.command()
@url_option
@click.option("--project", default="default", show_default=True, help="Project to open.")
@json_option
def status(url: str | None, project: str, as_json: bool) -> None:
    """The configured store: backend, location, reachable or not (and why), versions, env."""
    from ..urls import default_url, redact_url, split_scheme

    configured = url or default_url()
    report: dict[str, Any] = {
        "url": redact_url(configured),
        "backend": split_scheme(configured)[0],
        "location": _location(configured),
        "project": project,
        "reachable": False,
        "reason": None,
    }
    info: dict = {}
    root = json_root(configured)
    try:
        if root is not None and not os.path.isdir(os.path.join(root, project)):
            _probe_dir(root)  # a JSON project that does not exist yet: do not create it
            report.update(reachable=True, reason=f"project {project!r} does not exist yet")
        else:
            with open_store(configured, project) as store:
                store.tables()
                info = store.info()
            report.update(reachable=True, backend=info.get("backend"))
    except Exception as exc:  # noqa: BLE001 - the reason is the report
        report["reason"] = output.scrub(describe(exc), [configured])
    report["versions"] = _versions(info, configured if report["reachable"] else "")
    report["environment"] = environment()
    report["details"] = {k: v for k, v in info.items() if k not in ("backend", "url", "project")}
    if as_json:
        click.echo(output.dumps(report))
    else:
        _print_status(report)
    if not report["reachable"]:
        raise SystemExit(output.EXIT_ERROR)


def _probe_dir(path: str) -> None:
    """Raise unless ``path`` is (or could be created as) a writable directory."""
    from ..errors import BackendUnavailableError

    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe) or not os.access(probe, os.W_OK | os.X_OK):
        raise BackendUnavailableError(f"cannot open JSON store at {path}: {probe} not writable")


def _print_status(r: dict) -> None:
    state = "reachable" if r["reachable"] else f"NOT reachable: {r['reason']}"
    if r["reachable"] and r["reason"]:
        state += f" ({r['reason']})"
    lines = [
        ("URL", r["url"]),
        ("Backend", r["backend"]),
        ("Location", r["location"]),
        ("Project", r["project"]),
        ("Status", state),
    ]
    lines += [(f"Version {k}", v or "-") for k, v in r["versions"].items()]
    lines += [(f"Env {k}", v) for k, v in r["environment"].items()] or [("Env", "(none set)")]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key.ljust(width)}  {value}")


def json_root(target: str | None) -> str | None:
    """The JSON store root ``target`` names (a URL, a store root or a project directory)."""
    from ..urls import default_url, split_scheme

    scheme, path = split_scheme(target or default_url())
    if scheme != "json":
        return None
    return os.path.abspath(os.path.expanduser(path))


def _targets(target: str | None, project: str | None) -> tuple[str, list[str]]:
    from .. import doctor

    root = json_root(target)
    assert root is not None
    if os.path.isdir(os.path.join(root, ".meta")):  # a project directory itself
        return os.path.dirname(root), [os.path.basename(root)]
    if not os.path.isdir(root):
        output.fail(f"no JSON store at {root}")
    return root, [project] if project else doctor.projects(root)


@click.command(name="inspect")
@click.option("--project", default=None, help="Only this project (default: all of a JSON root).")
@json_option
@click.argument("path_or_url", required=False)
def inspect_cmd(project: str | None, as_json: bool, path_or_url: str | None) -> None:
    """A data directory or store at a glance: projects, tables, counts, size, indexes, last
    change, and anything wrong (unfinished commit, stray files, corrupt records, held lock)."""
    if json_root(path_or_url) is not None:
        root, names = _targets(path_or_url, project)
        reports = [_inspect_json(root, name) for name in names]
    else:
        reports = [_inspect_store(path_or_url or "", project or "default")]
    if as_json:
        click.echo(output.dumps(reports))
        return
    for rep in reports:
        _print_project(rep)
    if not reports:
        click.echo("(no projects)")


def _inspect_json(root: str, name: str) -> dict:
    from .. import doctor

    rep = doctor.check(root, name).as_dict()
    rep["indexes"] = []
    if any(f["kind"] in ("unfinished", "torn") for f in rep["findings"]):
        return rep  # opening the store would finish the commit: inspect only looks
    try:
        with open_store("json://" + root, name) as store:
            rep["indexes"] = [list(map(str, i)) for i in store.backend.indexes()]
    except Exception as exc:  # noqa: BLE001 - shown as a finding
        rep["findings"].append({"kind": "unreadable", "message": describe(exc)})
    return rep


def _inspect_store(url: str, project: str) -> dict:
    from .. import portable

    with open_store(url, project) as store:
        seq = portable.last_seq(store)
        last = store.changes(seq - 1, limit=1) if seq else []
        return {
            "project": project,
            "path": store.info()["url"],
            "tables": portable.counts(store),
            "bytes": None,
            "last_seq": seq,
            "last_time": last[0].time if last else None,
            "lock_pids": [],
            "indexes": [list(map(str, i)) for i in store.backend.indexes()],
            "findings": [],
        }


def _print_project(rep: dict) -> None:
    total = sum(rep["tables"].values())
    click.echo(f"Project {rep['project']}  ({rep['path']})")
    click.echo(
        f"  {total} records in {len(rep['tables'])} tables, {output.size(rep['bytes'])} on disk; "
        f"last change seq {rep['last_seq']} at {output.when(rep['last_time'])}"
    )
    rows = [{"table": t, "records": n} for t, n in rep["tables"].items()]
    if rows:
        click.echo("  " + output.table(rows).replace("\n", "\n  "))
    for index in rep["indexes"]:
        click.echo(f"  index {' '.join(index)}")
    for f in rep["findings"]:
        where = f" {f['path']}" if f.get("path") else ""
        click.echo(f"  ! {f['kind']}: {f['message']}{where}")


@click.command()
@click.option("--project", default=None, help="Only this project (default: all of a JSON root).")
@click.option("--repair", is_flag=True, help="Finish interrupted commits; quarantine corrupt "
              "records into <project>/.quarantine/ (nothing is deleted).")  # fmt: skip
@json_option
@click.argument("path_or_url", required=False)
def doctor(project: str | None, repair: bool, as_json: bool, path_or_url: str | None) -> None:
    """Check a store's integrity; exit 1 while problems remain."""
    from .. import doctor as doc

    if json_root(path_or_url) is None:
        output.fail("doctor checks JSON stores (a directory or json:// URL) in this build")
    root, names = _targets(path_or_url, project)
    results = []
    for name in names:
        bar = output.Progress(f"checked {name}:")
        if repair:
            fixed = doc.repair(root, name, bar)
            results.append({"project": name, **fixed, "findings": fixed["after"]["findings"]})
        else:
            findings = doc.check(root, name, progress=bar).as_dict()["findings"]
            results.append({"project": name, "findings": findings})
        bar.close()
    bad = sum(1 for r in results for f in r["findings"] if f["kind"] in PROBLEMS)
    if as_json:
        click.echo(output.dumps({"projects": results, "problems": bad}))
    else:
        _print_doctor(results, bad)
    if bad:
        raise SystemExit(output.EXIT_ERROR)


def _print_doctor(results: list, bad: int) -> None:
    for r in results:
        click.echo(f"Project {r['project']}:")
        for message in r.get("finished", []):
            click.echo(f"  finished: {message}")
        for q in r.get("quarantined", []):
            if q["to"]:
                click.echo(f"  quarantined {q['table']}:{q['id']} -> {q['to']}")
            if q.get("restored"):
                click.echo(f"  restored {q['table']}:{q['id']} from the log (version "
                           f"{q['restored']}, the last one committed)")  # fmt: skip
        for f in r["findings"]:
            where = f" {f['path']}" if f.get("path") else ""
            click.echo(f"  ! {f['kind']}: {f['message']}{where}")
        if not r["findings"]:
            click.echo("  ok")
    click.echo(f"{bad} problem(s)" if bad else "no problems")
