"""Everything that speaks to the chain: ABI encoding, contract artifacts, deployment."""
