"""The two inference services (TGI client, HF inference client) behind the container protocol."""
