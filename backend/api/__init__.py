"""The REST API: the app factory, its routes (one file per resource) and the request/response schemas."""
