"""A user's own project: the toolchain an installed kit needs (`infernet-kit setup`) and the scaffold of a new
project (`infernet-kit init`)."""
