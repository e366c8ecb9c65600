"""Data quality gates: great-expectations suites (the only module that imports GX)."""
