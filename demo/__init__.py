"""The demo consortium: the seeded world written to the real ledger through the gateways,
one model per retailer trained from it, and the gateways serving the pages (`make run`)."""
