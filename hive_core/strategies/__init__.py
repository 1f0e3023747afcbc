"""Shipped example strategies; each file defines one Strategy subclass (see hive_core.loader)."""
