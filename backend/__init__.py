"""Hive's backend: the service that drives the broker and the instances, and the thin client for it."""

__version__ = "0.1.0"
