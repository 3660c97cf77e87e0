"""One router per resource; route bodies validate, then call the ledger service."""
