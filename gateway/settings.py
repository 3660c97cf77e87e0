"""The gateway's configuration: one typed object, from the environment or an env file.

A retailer writes an env file for its own peer (docs/operations.md, "Run a gateway against
your own peer"); the test network generates one (``prefshare-network gateway-env R``). The
service obtains its settings through :func:`get_settings` (cached), when it starts, never at
import; tests read them with :func:`read_settings` and pass them to
:func:`gateway.app.create_app`. An explicit value is never overridden by the environment.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ADDRESS = r"^[^:\s]+:\d{1,5}$"


class NodeEndpoint(BaseModel):
    """Another peer or an orderer: ``host:port``, its organisation and TLS root (PEM file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: Annotated[str, Field(pattern=_ADDRESS)]
    msp_id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,38}MSP$")]
    tls_root: Path
    host_override: str | None = None


class MemberEndpoint(BaseModel):
    """Another retailer's gateway, for member-to-member reads (gateway/members.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    msp_id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,38}MSP$")]
    url: Annotated[str, Field(pattern=r"^https://[^\s/]+$")]
    #: The CA root its HTTPS certificate chains to.
    tls_root: Path
    #: Its organisation's CA root: the issuer of its gateway's Fabric identity.
    msp_root: Path


class MetricsEndpoint(BaseModel):
    """A peer's or orderer's operations endpoint, whose ``/metrics`` the node watch reads
    (gateway/watch/node_service.py). ``tls_root``: the CA root of an HTTPS endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The node's name in alerts and metrics (the test network: its process name).
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    kind: Literal["peer", "orderer"]
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+$")]
    tls_root: Path | None = None


class GatewaySettings(BaseSettings):
    """Everything one retailer's gateway needs. Environment prefix ``PREFSHARE_GATEWAY_``."""

    model_config = SettingsConfigDict(env_prefix="PREFSHARE_GATEWAY_", extra="forbid",
                                      frozen=True)

    retailer: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
    msp_id: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,38}MSP$")]
    channel: str = "prefshare"
    chaincode: str = "prefshare"
    #: MSP ids of the organisations that may endorse a proposal carrying private data.
    endorsing_orgs: tuple[str, ...]
    #: The organisations of the chaincode's endorsement policy (empty: ``endorsing_orgs``)
    #: and how many of them must endorse a write (None: a majority, as the lifecycle's
    #: ``MAJORITY Endorsement``).
    policy_orgs: tuple[str, ...] = ()
    endorsements_required: Annotated[int, Field(ge=1)] | None = None

    peer_endpoint: Annotated[str, Field(pattern=_ADDRESS)]
    peer_tls_root: Path
    peer_host_override: str | None = None
    msp_dir: Path
    #: The other organisations' peers that may endorse this gateway's writes.
    endorsing_peers: tuple[NodeEndpoint, ...] = ()
    #: The ordering service's nodes, in the order to try them.
    orderers: tuple[NodeEndpoint, ...] = ()
    #: The other retailers' gateways: their events are read through them, and they read
    #: this retailer's through this one.
    members: tuple[MemberEndpoint, ...] = ()
    #: How long a member-to-member read may take before the kiosk answers without it.
    member_timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0
    #: How often the gateway looks for erasures it has not completed in its collection.
    erasure_poll_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    #: How often queued access-log entries are sent to the ledger.
    read_log_interval_s: Annotated[float, Field(gt=0, le=60)] = 0.5

    #: The cost guard: this member's ledger writes an hour (gateway/write_budget.py), from
    #: the consortium description's ``cost_guard``; None: no budget.
    write_budget_per_hour: Annotated[int, Field(ge=1)] | None = None

    #: The consortium watch over other members' reads of this retailer's data
    #: (gateway/watch/, docs/gateway.md "Consortium watch"): each reader's window and how
    #: often it is scored, how long it only learns, how many anomalous steps make an alert,
    #: and the rate a flagged reader is braked to until the admin clears it.
    watch_enabled: bool = True
    watch_window_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    watch_step_s: Annotated[float, Field(gt=0, le=3_600)] = 15.0
    watch_learn_s: Annotated[float, Field(ge=0, le=30 * 86_400)] = 86_400.0
    watch_min_history: Annotated[int, Field(ge=5, le=100_000)] = 100
    watch_learn_every_s: Annotated[float, Field(gt=0, le=86_400)] | None = None
    watch_consecutive: Annotated[int, Field(ge=1, le=100)] = 2
    watch_margin: Annotated[float, Field(ge=0, le=100)] = 0.5
    #: The sequential test beside the window (gateway/watch/sequential.py): a CUSUM per
    #: reader on its reads and new customers each step, the nats that alert, and the rise
    #: it is designed for (a multiple of the usual count at that hour, a rise an hour).
    watch_sequential: bool = True
    watch_cusum_threshold: Annotated[float, Field(gt=0, le=1_000)] = 10.0
    watch_cusum_ratio: Annotated[float, Field(gt=1, le=1_000)] = 3.0
    watch_cusum_shifts_per_hour: tuple[float, ...] = (30.0, 120.0, 480.0)
    watch_open_hours: tuple[int, int] = (7, 22)
    watch_training_hours: tuple[int, int] = (1, 5)
    watch_brake_per_minute: Annotated[float, Field(gt=0, le=100_000)] = 6.0

    #: Node health (gateway/watch/nodes.py, docs/gateway.md "Node health"): the peers' and
    #: orderers' operations endpoints to read, how often and how long a read may take, and
    #: how many anomalous scrapes in a row flag a node. No endpoints: no node watch.
    node_metrics: tuple[MetricsEndpoint, ...] = ()
    node_watch_interval_s: Annotated[float, Field(gt=0, le=3_600)] = 5.0
    node_watch_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    node_watch_consecutive: Annotated[int, Field(ge=1, le=100)] = 2
    node_watch_lag_blocks: Annotated[int, Field(ge=1, le=100_000)] = 3

    data_dir: Path
    #: The shared state of worker processes and replicas (credentials, idempotency keys,
    #: suggestion-cache generations; gateway/postgres/): a PostgreSQL URL
    #: (``postgresql://user:password@host:port/db``, a secret: never logged). None: embedded
    #: SQLite in ``data_dir``, one process.
    database_url: SecretStr | None = None
    #: Connections each worker process keeps to it at most.
    database_pool_size: Annotated[int, Field(ge=1, le=100)] = 8
    #: Worker processes `prefshare-gateway serve` starts (more than one needs
    #: ``database_url``).
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None

    #: The retailer's catalogue (recommender.catalogue JSON); without one the suggestions
    #: endpoint answers 503 SUGGESTIONS_NOT_CONFIGURED.
    catalogue_path: Path | None = None
    #: Where the operator puts the trained model (default ``data_dir/model``): installed at
    #: start when it holds an artifact, and again on POST /v1/admin/model. Read at request
    #: time, so a model put there after the start needs no restart.
    model_dir: Path

    #: The model life cycle (gateway/lifecycle.py; docs/gateway.md "Model life cycle").
    #: Retrain when this long has passed since the serving model was trained (None: never
    #: on a schedule), or when this many new records arrived since the last retrain (events
    #: recorded here, and other members' notices of new events shared with this retailer;
    #: None: never for new data); the schedule looks every ``retrain_check_s``.
    retrain_interval_s: Annotated[float, Field(gt=0)] | None = 86_400.0
    retrain_min_new_records: Annotated[int, Field(ge=1)] | None = 1000
    retrain_check_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    #: The install gate (recommender/gate.py): the new model's hit rate at 10 may fall below
    #: the serving model's by at most ``gate_max_drop`` plus ``gate_confidence_z`` standard
    #: errors, measured on the held-out customers newer than the serving model (at least
    #: ``gate_min_customers``; at most ``gate_holdout_customers``, the most recent).
    gate_max_drop: Annotated[float, Field(ge=0, le=1)] = 0.02
    gate_confidence_z: Annotated[float, Field(ge=0, le=10)] = 1.64
    gate_min_customers: Annotated[int, Field(ge=1, le=100_000)] = 10
    gate_holdout_customers: Annotated[int, Field(ge=1, le=100_000)] = 300
    #: Bias checks on the model card (recommender/model_card.py): the highest share of
    #: suggestions from the 10% most popular items, to one category, to one brand; the
    #: lowest catalogue coverage; the lowest segment hit rate as a share of the overall one.
    bias_max_popular_share: Annotated[float, Field(ge=0, le=1)] = 0.8
    bias_max_category_share: Annotated[float, Field(ge=0, le=1)] = 0.6
    bias_max_brand_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    bias_min_coverage: Annotated[float, Field(ge=0, le=1)] = 0.05
    bias_min_segment_ratio: Annotated[float, Field(ge=0, le=1)] = 0.0

    #: How long a kiosk suggestion reuses her consents and readable events read from the
    #: ledger (her kiosk session; gateway/suggestion_cache.py has when they are dropped
    #: sooner); 0 reads the ledger on every request.
    suggestion_cache_ttl_s: Annotated[float, Field(ge=0, le=3600)] = 30.0

    max_body_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 256 * 1024
    evaluate_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    endorse_timeout_s: Annotated[float, Field(gt=0, le=120)] = 15.0
    submit_timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    commit_timeout_s: Annotated[float, Field(gt=0, le=300)] = 30.0
    #: Seconds without its block after which a submitted transaction is broadcast again
    #: (an orderer can lose what it accepted, e.g. a Raft leader that dies); None: never.
    commit_resend_s: Annotated[float, Field(gt=0, le=300)] | None = 5.0

    # -- Limits under abuse, credentials, hardening (docs/gateway.md, "Limits") -------------
    #: Request rates in the `limits` library's notation (N/second|minute|hour, ";" joins).
    rate_per_address: str = "200/second"
    rate_per_credential: str = "100/second"
    rate_registrations_per_address: str = "10/minute"
    rate_registrations: str = "120/minute"
    #: Suggestions (the costliest route a store calls: a ledger read and a scoring) per
    #: credential, on top of its rate: a store's kiosks ask when a shopper is identified or
    #: presses refresh, a few a minute each; one credential at the general rate could take
    #: half a one-process gateway's capacity (docs/performance.md, the hostile run).
    rate_suggestions_per_credential: str = "20/second"
    #: Seconds a 429 over a rate is held before it is sent (at most its Retry-After): a
    #: client flooding on a few connections then costs the gateway a sleeping coroutine a
    #: second per connection, not a refusal per round trip. 0: answer at once.
    rate_limited_delay_s: Annotated[float, Field(ge=0, le=10)] = 1.0
    #: Requests in flight: per credential (429 beyond) and in all (503 beyond; below the
    #: 40 threads of the routes' pool, so the pool never runs out).
    max_in_flight_per_credential: Annotated[int, Field(ge=1, le=1000)] = 8
    max_in_flight: Annotated[int, Field(ge=1, le=1000)] = 32
    #: Another member's gateway reading this retailer's data (/v1/members/*): its rate and
    #: requests in flight (each kiosk read of a customer who shares with it is one call).
    rate_per_member: str = "200/second"
    max_in_flight_per_member: Annotated[int, Field(ge=1, le=1000)] = 16
    #: Open connections (503 beyond); seconds to send a request's head, its body, and idle
    #: between requests; the request line and headers' bytes (431 beyond), the URL's (414).
    max_connections: Annotated[int, Field(ge=1, le=100_000)] = 512
    header_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    body_timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    keep_alive_timeout_s: Annotated[int, Field(ge=1, le=300)] = 5
    max_head_bytes: Annotated[int, Field(ge=4096, le=1024 * 1024)] = 16 * 1024
    max_url_bytes: Annotated[int, Field(ge=256, le=64 * 1024)] = 4096
    #: Store credentials: lifetime when issued without one, the longest allowed, and how
    #: long a rotated credential keeps working beside its successor.
    credential_lifetime_days: Annotated[int, Field(ge=1, le=3650)] = 90
    credential_max_lifetime_days: Annotated[int, Field(ge=1, le=3650)] = 365
    credential_rotation_grace_s: Annotated[int, Field(ge=0, le=7 * 86_400)] = 3600
    #: Check store and item ids against the catalogue (gateway/store_scope.py).
    enforce_catalogue: bool = True
    #: Plausible times: the longest consent (expires_at - given_at), how far a client's clock
    #: may be ahead, and the oldest event a store may record.
    max_consent_lifetime_days: Annotated[int, Field(ge=1, le=36_500)] = 1826
    max_clock_skew_s: Annotated[int, Field(ge=0, le=86_400)] = 300
    max_event_age_days: Annotated[int, Field(ge=1, le=36_500)] = 3650
    #: Strict-Transport-Security max-age on every answer (0: no header).
    hsts_max_age_s: Annotated[int, Field(ge=0, le=2 * 31_536_000)] = 31_536_000

    @model_validator(mode="before")
    @classmethod
    def _default_model_dir(cls, data: Any) -> Any:
        # Derived here rather than by callers, so every way of building the settings agrees.
        if isinstance(data, dict) and data.get("model_dir") is None and data.get("data_dir"):
            data = {**data, "model_dir": Path(data["data_dir"]) / "model"}
        return data

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.database_url is not None and not self.database_url.get_secret_value() \
                .startswith(("postgresql://", "postgres://")):
            raise ValueError("database_url must be a postgresql:// URL")
        check_workers(self.workers, self.database_url)
        return self

    def loggable(self) -> dict[str, Any]:
        """The effective values for the start-up log line (no secrets are held here)."""
        return {k: str(v) for k, v in self.model_dump().items()}


class WorkersNeedSharedDatabase(ValueError):
    """More than one worker process on embedded SQLite: their credentials, idempotency keys
    and cache invalidations would not be shared."""


def check_workers(workers: int, database_url: SecretStr | None) -> None:
    """Raises WorkersNeedSharedDatabase for ``workers`` > 1 without a database URL."""
    if workers > 1 and database_url is None:
        raise WorkersNeedSharedDatabase(
            f"{workers} workers need PREFSHARE_GATEWAY_DATABASE_URL (PostgreSQL): on the "
            "embedded SQLite only one process may serve a gateway")


def read_settings(env_file: Path | None = None, **values: Any) -> GatewaySettings:
    """Settings from ``values``, else the ``PREFSHARE_GATEWAY_*`` environment, else
    ``env_file`` (dotenv syntax; docs/operations.md lists each setting), in that order.

    Raises:
        pydantic.ValidationError: a setting is missing or invalid (the message names it).
    """
    return GatewaySettings(_env_file=env_file, **values)  # type: ignore[call-arg]


@functools.cache
def get_settings(env_file: Path | None = None) -> GatewaySettings:
    """The running service's settings (:func:`read_settings`), read once per env file."""
    return read_settings(env_file)
