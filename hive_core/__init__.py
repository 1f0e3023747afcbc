"""hive_core: the runtime inside each Hive instance; many strategies, one process, one clock."""

__version__ = "0.1.0"
