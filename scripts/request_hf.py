#!/usr/bin/env python3
"""Run each Hugging Face task on chain through HFCallbackConsumer and print the decoded answers.

Run with --help for the flags.
"""

import sys

from infernet_kit.client.scripts import request_hf

if __name__ == "__main__":
    sys.exit(request_hf())
