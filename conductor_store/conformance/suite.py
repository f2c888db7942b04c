"""The whole suite: every mixin of this package in one class to subclass."""

from __future__ import annotations

from .changelog import ChangeLogTests
from .crud import CrudTests
from .harness import Harness
from .integrity import IntegrityTests
from .lifecycle import LifecycleTests
from .network import NetworkTests
from .persistence import PersistenceTests
from .queries import QueryTests
from .stateful import StatefulTests
from .transactions import TransactionTests
from .validation_tests import ValidationTests
from .values import ValueTests


class StoreConformance(
    Harness,
    CrudTests,
    ValueTests,
    ValidationTests,
    QueryTests,
    TransactionTests,
    ChangeLogTests,
    PersistenceTests,
    LifecycleTests,
    NetworkTests,
    IntegrityTests,
    StatefulTests,
):
    """Every conformance test. Subclass it (named ``Test...``) and override ``make_url``."""
