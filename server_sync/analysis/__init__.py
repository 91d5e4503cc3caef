"""Loyalty analysis of the central store.

Pure statistics (`stats`, `metrics`, `trends`, `ranking`, `drivers`, `pulse`, `actions_effect`,
`alert_rules`, `opening`) are kept apart from the modules that read the database (`queries`,
`chain_report`, `alerts`, `fleet`), so every figure can be tested against hand-computed examples.
"""

import os

# The figures' matrices are small (a few answer values by at most 20,000 splits): OpenBLAS's
# threads gain nothing on them and spin a second core while they wait (measured: the ranking and
# drivers tests took 19 s with 38 s of CPU at two threads, 19 s with 19 s at one), a core a web
# request or another process needed. Read once, when numpy is first imported (the modules here
# import it); an operator's own setting is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
