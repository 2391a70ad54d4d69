"""Fixed values of the wire (PROTOCOL.md): where the parts listen by default, the zero address.

Plain constants only: the CLI imports this at start, so `--help` stays instant.
"""

DEFAULT_NODE_URL = "http://127.0.0.1:4000"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
# A container's `--bind` when none is given: the seeds' services listen on port 3000.
DEFAULT_BIND = "0.0.0.0:3000"
# No verifier, no payment token (ETH), no wallet.
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
