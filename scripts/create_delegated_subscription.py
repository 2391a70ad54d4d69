#!/usr/bin/env python3
"""The seeds' delegated subscription flow: sign, send to the node, print the subscription id.

Run with --help for the flags.
"""

import sys

from infernet_kit.client.scripts import create_delegated_subscription

if __name__ == "__main__":
    sys.exit(create_delegated_subscription())
