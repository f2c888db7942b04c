"""The whole suite on one URL, for ``conductor-store conformance URL`` and
``pytest --conductor-store-url URL`` (both set the environment this module reads).

``CONDUCTOR_STORE_CONFORMANCE_URL`` is a URL template: ``{tmp}`` becomes a fresh empty
directory for each test and ``{unique}`` a fresh token (e.g. ``sqlite://{tmp}/db.sqlite``,
``ws://root:pw@host:8000/?namespace=t_{unique}``); without either, every test uses the same
location. ``CONDUCTOR_STORE_CONFORMANCE_CAPABILITIES`` is a JSON object of capability flags.
"""

from __future__ import annotations

import json
import os
import uuid

from conductor_store.conformance import StoreConformance
from conductor_store.conformance.runner import CAPABILITIES_ENV, URL_ENV


def expand(template: str, tmp_path: object) -> str:
    return template.replace("{tmp}", str(tmp_path)).replace("{unique}", uuid.uuid4().hex[:16])


class TestBackendAtURL(StoreConformance):
    """Every conformance test, on the URL named in the environment."""

    def make_url(self, tmp_path):
        return expand(os.environ[URL_ENV], tmp_path)


for _flag, _value in json.loads(os.environ.get(CAPABILITIES_ENV, "{}")).items():
    setattr(TestBackendAtURL, _flag, _value)
