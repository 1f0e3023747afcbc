"""The strategy library: shipped examples and uploaded files with every version."""
