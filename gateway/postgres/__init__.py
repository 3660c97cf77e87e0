"""The gateway's shared state in PostgreSQL, for worker processes and replicas that serve one
retailer together (``database_url`` in gateway/settings.py; embedded SQLite otherwise).

What lives here and why (docs/operations.md, "Replicas on PostgreSQL"):

- store credentials (:mod:`.credentials`): a revocation or rotation through any worker must
  refuse the credential on the very next request to every worker, so each request reads the
  credential row here;
- idempotency keys (:mod:`.idempotency`): a client's retry may reach another worker;
- per-customer cache generations (:mod:`.generations`): a withdrawal through one worker must
  drop her suggestion-cache entry on every worker before their next answer.

What stays in each replica's own SQLite file, and why: the access-log queue (entries only
need to reach the ledger once, from whichever process queued them; workers of one host share
the file and claim batches, gateway/read_log.py), the consortium watch (its detector sees the
reads one process serves), and the in-memory rate limits and write budget (per process;
docs/gateway.md, "Limits").
"""
