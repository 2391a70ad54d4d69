#!/usr/bin/env python3
"""Ask TGICallbackConsumer.chatWithLLM on chain and print the node's decoded callback.

Run with --help for the flags.
"""

import sys

from infernet_kit.client.scripts import request_callback

if __name__ == "__main__":
    sys.exit(request_callback())
