"""The whole conductor-store conformance suite on the SQLite example backend, which is found
through its entry point (``sqlite://``) like any third-party backend."""

from conductor_store.conformance import StoreConformance


class TestSqliteExample(StoreConformance):
    child_setup = ""  # children find sqlite:// through the installed entry point too
    indexes = False  # it keeps no indexes (the Backend defaults: answers do not need them)

    def make_url(self, tmp_path):
        return f"sqlite://{tmp_path}/data.db"
