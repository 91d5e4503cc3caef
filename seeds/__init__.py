"""Kundpuls seed data: demo sites, questions and the reason catalogue in Swedish, Norwegian
Bokmål and English, shared by the demo, the tests and the benchmarks. Importable code only."""
