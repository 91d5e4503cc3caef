"""Repeatable benchmarks. Each module here that defines `run() -> dict` is one benchmark;
`python -m benchmarks [NAME …]` runs them and records results in benchmarks/results/<name>.json
with the machine they ran on. A benchmark measures the competing approach or the physical floor
in the same run and reports the ratio; it never asserts (tests do that)."""
