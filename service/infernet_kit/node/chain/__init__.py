"""The node's chain side: learn subscriptions, judge what is due by chain time, deliver results on chain."""
