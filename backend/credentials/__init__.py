"""Venue credentials: encrypted at rest with a key the store does not hold, handed to the instances using them."""
