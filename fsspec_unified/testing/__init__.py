"""Test-support code shipped with the package so that tests and benchmarks can share it."""
