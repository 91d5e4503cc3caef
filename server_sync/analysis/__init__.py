"""Loyalty analysis of the central store.

Pure statistics (`stats`, `metrics`, `trends`, `ranking`, `drivers`, `pulse`, `actions_effect`,
`alert_rules`, `opening`) are kept apart from the modules that read the database (`queries`,
`chain_report`, `alerts`, `fleet`), so every figure can be tested against hand-computed examples.
"""

from server_sync.program import blas

blas.one_thread_unless_set()            # before the modules here import numpy
