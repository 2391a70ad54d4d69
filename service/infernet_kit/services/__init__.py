"""The inference services behind the container protocol; their wire facts are in `infernet_kit.protocol`."""

import os

# huggingface_hub's telemetry, off unless the user turned it on: with it, the first request a process sends
# through an inference client builds its user agent by detecting "AI coding agents", which fetches a list from
# huggingface.co (a network call at run time from a service that talks to its own backend; ~0.23 s of CPU in each
# service worker, where the fetch fails offline and is tried again by every new worker). Read by huggingface_hub
# when it is imported, which every module here does after this package.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
