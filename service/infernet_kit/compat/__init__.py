"""Private internals of libraries we lean on, each in one small module with a test that fails loudly, naming
what changed, when a library upgrade moves or reshapes it (`tests/toolchain/test_compat_shapes.py`)."""
