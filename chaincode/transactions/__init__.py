"""The contract's transaction functions, one module per area (chaincode/contract.py
assembles them)."""
