"""Client library for the node's REST API and delegated subscriptions."""
