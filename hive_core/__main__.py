"""`python -m hive_core ...`: see hive_core.cli for the subcommands."""
from hive_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
