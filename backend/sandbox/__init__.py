"""Where uploaded strategy code is imported for validation: never in the backend, never with its rights.

`bwrap` (Debian's bubblewrap) or a throwaway `docker` container of the instance image, chosen by the
`validation_sandbox` setting (choice.py); with neither, uploaded code is not imported at all.
"""
