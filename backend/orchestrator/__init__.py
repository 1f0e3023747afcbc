"""The fleet connection, the instance lifecycle and the supervisor that keeps both up to date."""
