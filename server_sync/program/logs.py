"""The log of every Kundpuls program: one place that sets its level and format, and keeps the
libraries that log the data they handle out of it.

A program's `--log-level debug` (or a root logger Kivy sets to DEBUG) is for the program's own
steps. peewee logs every SQL statement with its values at DEBUG: a customer's comment, a
conflict's two versions, a refused message's whole payload, an office user's search words would
all go into the journal, which no retention period or erasure reaches.
"""

from __future__ import annotations

import logging

# Loggers of libraries that write the data they handle, not what they do; kept at INFO and above.
DATA_LOGGERS = ("peewee",)


def configure_logging(level: int | str, fmt: str) -> None:
    """`logging.basicConfig(level, fmt)` without the data loggers' DEBUG records."""
    logging.basicConfig(level=level.upper() if isinstance(level, str) else level, format=fmt)
    quiet_data_loggers()


def quiet_data_loggers() -> None:
    """Keep the data loggers' DEBUG records (statements with their values) out of every handler,
    whatever level the root logger has."""
    for name in DATA_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
