"""infernet-client 1.4's layout (`infernet_client.chain.rpc.RPC`, `infernet_client.chain.subscription`)."""
