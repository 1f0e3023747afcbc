"""The database queries, one repository per aggregate; each works in the session (transaction) it is given.

The services hold the rules and decide the transactions (`with store.session() as session`); a
repository only reads and writes rows.
"""
