"""Backends to copy: :mod:`conductor_store.examples.memory` keeps a project in plain dicts of
this process and passes the whole conformance suite (``docs/custom-backends.md`` builds it step
by step). ``examples/sqlite_backend/`` in the repository is a separately installable one on
the standard library's ``sqlite3``."""
