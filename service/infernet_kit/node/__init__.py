"""The Infernet-compatible node: REST API, job orchestration, chain listener and delivery."""
