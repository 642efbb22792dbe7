"""Benchmarks for School Phone Hub: run by ``make bench``, never by the tests."""
