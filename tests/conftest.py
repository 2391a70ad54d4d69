"""The kit's own tests use the same pytest plugin users get (registered through the pytest11 entry point)."""
