"""Benchmarks of hive_core (not shipped with it): `python -m benchmarks` runs them all."""
