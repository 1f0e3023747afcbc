"""Talking to Docker engines: the endpoints (hosts.py), what marks a container as Hive's (labels.py), images.

Used by the docker runtime and the broker container; nothing here knows HTTP or the orchestrator.
"""
