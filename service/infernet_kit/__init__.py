"""infernet-kit: the Infernet loop (contracts, node, inference services) on one laptop."""

from infernet_kit.compat import deferred_bls, deferred_httpx_cli

__version__ = "0.1.0"

# Before anything imports eth_account: its keystore module's BLS tables are built only if a BLS keystore is made.
deferred_bls.install()
# Before anything imports httpx: its command line's libraries (click, rich, pygments) load only if it is run.
deferred_httpx_cli.install()
