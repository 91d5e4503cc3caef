"""Every program's log goes through `server_sync.program.logs`: a root logger at DEBUG never lets
through the statements peewee logs with their values (a comment, a refused payload)."""

from __future__ import annotations

import logging
import re

from peewee import SqliteDatabase

from server_sync.program.logs import DATA_LOGGERS, configure_logging
from tests.test_imports import ROOT, product_files


def test_no_program_sets_up_its_log_apart():
    """A `logging.basicConfig` of its own would leave the data loggers at the root's level."""
    own = [f"{p.relative_to(ROOT)}:{n}" for p in product_files() if p.name != "logs.py"
           for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r"\bbasicConfig\(", line)]
    assert not own, own


def test_a_debug_log_holds_no_statement_values():
    root = logging.getLogger()
    saved = root.level, list(root.handlers), {n: logging.getLogger(n).level for n in DATA_LOGGERS}
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    try:
        root.handlers = []                     # basicConfig does nothing where a handler is set
        configure_logging("debug", "%(message)s")
        root.addHandler(handler)
        logging.getLogger("kundpuls.test").debug("own step")
        db = SqliteDatabase(":memory:")
        db.execute_sql("CREATE TABLE followup (comment TEXT)")
        db.execute_sql("INSERT INTO followup VALUES (?)", ("Kalle i kassan PRIVATEWORD",))
        db.close()
    finally:
        root.handlers = saved[1]
        root.setLevel(saved[0])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    assert [r.getMessage() for r in records if r.name == "kundpuls.test"] == ["own step"]
    assert not [r for r in records if "PRIVATEWORD" in r.getMessage()]
