"""Pytest fixtures that start a real local Infernet stack, for the kit's tests and for users' own."""
