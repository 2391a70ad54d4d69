"""infernet-kit: the Infernet loop (contracts, node, inference services) on one laptop."""

from infernet_kit.compat import deferred_bls

__version__ = "0.1.0"

# Before anything imports eth_account: its keystore module's BLS tables are built only if a BLS keystore is made.
deferred_bls.install()
