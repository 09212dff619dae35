"""The embedded validator: LiteSVM behind the Solana JSON-RPC API (``minter localnet``)."""
