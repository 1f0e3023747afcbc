"""Print the requirement lines of Hive's base and the named extras, from pyproject.toml (one per line).

The Dockerfile installs these with `-c requirements.lock`, so an image holds exactly the tested versions
of what its part needs, and the dependency layer is rebuilt only when pyproject.toml or the lock change.
Usage: python3 deploy/requirements.py [EXTRA ...] > requirements.txt
"""
import sys
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
lines = list(project["dependencies"])
for extra in sys.argv[1:]:
    lines += project["optional-dependencies"][extra]
print("\n".join(dict.fromkeys(lines)))
