"""What the services take and give: pydantic models with no HTTP in them, used by the API as its bodies."""
