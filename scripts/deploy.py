#!/usr/bin/env python3
"""Deploy the Infernet core and the example consumers from Python (same addresses as scripts/Deploy.s.sol).

Run with --help for the flags.
"""

import sys

from infernet_kit.client.scripts import deploy

if __name__ == "__main__":
    sys.exit(deploy())
