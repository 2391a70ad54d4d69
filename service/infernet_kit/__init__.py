"""infernet-kit: the Infernet loop (contracts, node, inference services) on one laptop."""

__version__ = "0.1.0"
