"""Fixed values of the wire (PROTOCOL.md): where the parts listen by default, the zero address.

Plain constants only: the CLI imports this at start, so `--help` stays instant.
"""

DEFAULT_NODE_URL = "http://127.0.0.1:4000"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
# A container's `--bind` when none is given: the seeds' services listen on port 3000.
DEFAULT_BIND = "0.0.0.0:3000"
# No verifier, no payment token (ETH), no wallet.
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Not in the reference: a node that held a `GET /api/jobs?id=…&wait=<s>` answer until the jobs ended (or <s>
# passed), or a `POST /api/jobs?wait=<s>` answer until the new job ended (answering its record, not just its id),
# says so in this header, with the seconds granted; a node without it answered at once.
JOB_WAIT_HEADER = "x-infernet-wait"
MAX_JOB_WAIT = 30.0  # the longest wait a node grants; longer asks are cut to it
