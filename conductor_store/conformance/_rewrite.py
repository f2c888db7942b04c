"""Imported first by the package: pytest rewrites the suite's asserts, so that a failure shows
the values compared (as in the user's own test files), however the suite was imported."""

import pytest

pytest.register_assert_rewrite(
    *(
        f"conductor_store.conformance.{name}"
        for name in (
            "changelog",
            "crud",
            "harness",
            "integrity",
            "lifecycle",
            "network",
            "persistence",
            "queries",
            "transactions",
            "validation_tests",
            "values",
        )
    )
)
