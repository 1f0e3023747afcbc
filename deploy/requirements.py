"""Print the requirement lines of Hive's base and the named extras, from pyproject.toml (one per line).

The Dockerfile installs these with `-c requirements.lock`, so an image holds exactly the tested versions
of what its part needs, and the dependency layer is rebuilt only when pyproject.toml or the lock change.
Usage: python3 deploy/requirements.py [--extras-only] [EXTRA ...] > requirements.txt
  --extras-only   leave out the base (hive_core's needs), for parts that never import hive_core (the dashboard)
"""
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
arguments = sys.argv[1:]
extras_only = "--extras-only" in arguments
lines = [] if extras_only else list(project["dependencies"])
for extra in (argument for argument in arguments if argument != "--extras-only"):
    lines += project["optional-dependencies"][extra]
print("\n".join(dict.fromkeys(lines)))
