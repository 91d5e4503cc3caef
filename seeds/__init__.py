"""Kundpuls seed data: demo sites, questions and the reason catalogue in Swedish, Norwegian
Bokmål and English, shared by the demo, the tests and the benchmarks. Importable code only."""

from server_sync.program import blas

blas.one_thread_unless_set()            # before history and bulkload import numpy (server_sync.program.blas)
