"""Imported before the suite's modules: pytest rewrites their asserts, so that a failure shows
the values compared (as in the user's own test files), however the suite was imported."""

import pytest

from . import EXPORTS

pytest.register_assert_rewrite(*(f"conductor_store.conformance.{m}" for m in {*EXPORTS.values()}))
