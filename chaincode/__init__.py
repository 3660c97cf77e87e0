"""prefshare chaincode package.

Pure logic the contract calls, one module per thing it holds:

- ``errors``: every refusal as a typed error with a stable code (table in its docstring);
- ``canonical``: RFC 8785 bytes and base64url, the forms a customer's client reproduces;
- ``fields``: strict JSON readers and the one timestamp form;
- ``statekeys``: composite state keys as the shim renders them;
- ``keys``: customer P-256 keys, customer ids, signature checks, the customer record;
- ``consent``: signed consent statements, consent records and their transitions;
- ``preferences``: preference events, batches and their private-data keys;
- ``policy``: the read decision, event filtering and signed rights requests;
- ``provenance``: model provenance records;
- ``identity``: caller identity, Fabric CA attributes and the transient map from protos;
- ``collection_config``: the private data collection config from the member list;
- ``access_log``: the access-log entry a logged read leaves in public state.

The layer above them:

- ``ledger``: the ``Ledger`` protocol, the only surface the contract uses;
- ``contract``: the transaction functions (``TRANSACTIONS`` lists them);
- ``memory_ledger``: an in-memory ``Ledger`` for unit tests (a double, never evidence);
- ``shim_ext``: what the PyPI shim lacks (private data, purge, hashes, transient map,
  events) and ``ShimLedger``, the ``Ledger`` over a real peer stream;
- ``server`` / ``__main__``: the chaincode-as-a-service gRPC server (``python -m chaincode``).
"""
