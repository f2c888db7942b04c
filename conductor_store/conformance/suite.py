"""The whole suite: every mixin of this package in one class to subclass."""

from __future__ import annotations

from .bad_input import BadInputTests
from .changelog import ChangeLogTests
from .crud import CrudTests
from .harness import Harness
from .indexes import IndexTests
from .integrity import IntegrityTests
from .lifecycle import LifecycleTests
from .network import NetworkTests
from .persistence import PersistenceTests
from .queries import QueryTests
from .records import RecordsTests
from .records_audit import RecordsAuditTests
from .records_concurrency import RecordsConcurrencyTests
from .sql import SqlTests
from .stateful import StatefulTests
from .transactions import TransactionTests
from .validation_tests import ValidationTests
from .values import ValueTests
from .watch import WatchTests


class StoreConformance(
    Harness,
    CrudTests,
    ValueTests,
    ValidationTests,
    QueryTests,
    SqlTests,
    TransactionTests,
    ChangeLogTests,
    PersistenceTests,
    LifecycleTests,
    NetworkTests,
    WatchTests,
    RecordsTests,
    RecordsAuditTests,
    RecordsConcurrencyTests,
    IndexTests,
    BadInputTests,
    IntegrityTests,
    StatefulTests,
):
    """Every conformance test. Subclass it (named ``Test...``) and override ``make_url``."""
