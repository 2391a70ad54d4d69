"""The inference services behind the container protocol; their wire facts are in `infernet_kit.protocol`."""
