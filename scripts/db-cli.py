#!/usr/bin/env python3
"""The seed's ``db-cli``: ``python scripts/db-cli.py status|migrate|migrate-all|query|stats|
init-schema``; see :mod:`conductor_store.cli.dbcli`."""

from conductor_store.cli.dbcli import main

if __name__ == "__main__":
    main(prog_name="db-cli.py")
