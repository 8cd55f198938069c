"""What the operator reads back from the books: revenue and margin (`revenue`), what providers
kept beyond their rates (`provider_losses`), and their balances against our expected spend
(`balance_drift`)."""
