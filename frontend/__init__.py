"""Shared UI pieces of the dashboard: backend session, errors, badges, tables, charts, logs, forms.

Dependency direction: pages -> frontend -> backend.client (nothing else from the backend).
"""
