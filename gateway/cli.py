"""`prefshare-gateway [--env-file F] COMMAND`: serve a retailer's gateway, manage its store
credentials (issue, list, revoke, rotate), check it, train its model.

Settings come from ``PREFSHARE_GATEWAY_*`` environment variables or the env file
(docs/operations.md; ``prefshare-network gateway-env R`` generates one for the test network).
Every failure is one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.errors import ApiError
from gateway.settings import GatewaySettings, check_workers, get_settings
from gateway.shared_state import open_shared_state
from gateway.store_scope import StoreScope
from gateway.stores import Credentials, Role


class SettingsFileMissing(ValueError):
    """``--env-file`` names no file (the settings library would silently read none)."""


def _settings(args: argparse.Namespace) -> GatewaySettings:
    if args.env_file is not None and not args.env_file.is_file():
        raise SettingsFileMissing(f"no env file at {args.env_file}")
    return get_settings(args.env_file.resolve() if args.env_file else None)


def _one_line(exc: ValidationError) -> str:
    """A settings error in one line, each problem as ``NAME: what is wrong``."""
    return "invalid settings: " + "; ".join(
        ("PREFSHARE_GATEWAY_" + ".".join(str(p) for p in e["loc"]).upper() + ": "
         if e["loc"] else "") + e["msg"] for e in exc.errors())


def _serve(args: argparse.Namespace) -> int:
    from gateway import logs
    from gateway.app import create_app
    from gateway.server import serve, serve_workers

    settings = _settings(args)
    workers = args.workers or settings.workers
    if not 1 <= workers <= 64:
        raise ValueError("--workers must be 1 to 64")
    check_workers(workers, settings.database_url)
    logs.configure()
    if workers > 1:
        serve_workers(create_app, settings.model_copy(update={"workers": workers}))
    else:
        serve(create_app(settings), settings)
    return 0


@contextmanager
def _credentials(args: argparse.Namespace) -> Iterator[tuple[GatewaySettings, Credentials]]:
    # The shared store when a database is configured: a revocation here reaches every worker.
    settings = _settings(args)
    state = open_shared_state(settings)
    try:
        yield settings, state.credentials
    finally:
        state.close()


def _lifetime(settings: GatewaySettings, days: int | None) -> timedelta:
    if days is not None and not 1 <= days <= settings.credential_max_lifetime_days:
        raise ValueError(f"--lifetime-days must be 1 to {settings.credential_max_lifetime_days}")
    return timedelta(days=days or settings.credential_lifetime_days)


def _issue(args: argparse.Namespace) -> int:
    with _credentials(args) as (settings, store):
        if not args.admin:
            StoreScope.from_settings(settings).require_issuable(args.store)
        credential = store.issue(args.store, Role.ADMIN if args.admin else Role.STORE,
                                 lifetime=_lifetime(settings, args.lifetime_days))
    print(credential)
    return 0


def _list(args: argparse.Namespace) -> int:
    with _credentials(args) as (_, store):
        entries = store.entries(store_id=args.store)
    now = datetime.now(UTC)
    for c in entries:
        print(f"{c.key_id}  {c.store_id:24} {c.role.value:5} {c.status(now):7} "
              f"expires {c.expires_at:%Y-%m-%d %H:%M}Z"
              + (f"  replaced by {c.replaced_by}" if c.replaced_by else ""))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    with _credentials(args) as (_, store):
        revoked = store.revoke(args.key_id)
    if not revoked:
        print(f"error: no credential {args.key_id} that is not revoked already",
              file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}: refused from the next request on")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    with _credentials(args) as (settings, store):
        credential = store.rotate(
            args.key_id, lifetime=_lifetime(settings, args.lifetime_days),
            grace=timedelta(seconds=settings.credential_rotation_grace_s))
    if credential is None:
        print(f"error: no active credential {args.key_id}", file=sys.stderr)
        return 1
    print(credential)
    return 0


def _check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    context = ssl.create_default_context(cafile=str(settings.peer_tls_root))
    url = f"https://{settings.http_host}:{settings.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as r:
            body = json.load(r)
    except urllib.error.HTTPError as exc:
        body = json.load(exc)
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: gateway at {url} is not answering: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {body['status']} (peer {body['peer']})")
    return 0 if body["status"] == "ok" else 1


def _lifecycle(settings: GatewaySettings, connection: Any) -> Any:
    from gateway.lifecycle import ModelLifecycle, thresholds_of
    from gateway.remote_install import remote_installer
    from gateway.sharing import reader_sharing
    from recommender.catalogue import Catalogue

    if settings.catalogue_path is None:
        raise ValueError("no catalogue configured for this gateway")
    catalogue = Catalogue.from_json(settings.catalogue_path.read_text(encoding="utf-8"))
    return ModelLifecycle(settings, connection.ledger, reader_sharing(settings, connection),
                          catalogue, remote_installer(settings), thresholds_of(settings))


def _print_card(model_id: str | None, card: dict[str, float]) -> None:
    print(f"model {model_id or '(none)'}")
    if not card:
        print("  no card recorded (a model trained before cards existed)")
    for name, value in card.items():
        print(f"  {name:44} {value:g}")


def _train(args: argparse.Namespace) -> int:
    from gateway.fabric.errors import GatewayError
    from gateway.ledger import open_ledger
    from gateway.lifecycle import ModelRefused
    from gateway.members import MemberUnavailable
    from gateway.remote_install import InstallRefused
    from gateway.sharing import reader_sharing
    from gateway.training import train_from_ledger
    from recommender.catalogue import Catalogue

    settings = _settings(args)
    if settings.catalogue_path is None:
        print("error: no catalogue configured for this gateway", file=sys.stderr)
        return 1
    catalogue = Catalogue.from_json(settings.catalogue_path.read_text(encoding="utf-8"))
    # A one-shot command says how it ended in one line; the commit listener's reconnection
    # warnings (the peer is down) are a server's operational log, not that line.
    logging.getLogger("gateway.fabric").setLevel(logging.ERROR)
    connection = open_ledger(settings)
    try:
        if args.install:
            from gateway import logs
            logs.configure()  # the retrain's progress lines, on stderr
            outcome = _lifecycle(settings, connection).retrain(reason="operator")
            serving = outcome.model_id
            print(json.dumps(outcome.to_dict(), indent=1))
            print(f"installed {serving}; previous {outcome.previous_model_id} kept for "
                  "`prefshare-gateway rollback`", file=sys.stderr)
            return 0
        provenance = train_from_ledger(connection.ledger,
                                       reader_sharing(settings, connection), settings.channel,
                                       catalogue, args.output)
    except ModelRefused as exc:
        print(json.dumps(exc.details, indent=1))
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except InstallRefused as exc:
        print(f"error: {exc}; the previous model keeps serving", file=sys.stderr)
        return 1
    except MemberUnavailable as exc:
        print(f"error: a member's gateway did not answer: {exc}", file=sys.stderr)
        return 1
    except GatewayError as exc:
        print(f"error: the ledger could not be read: {exc.code.name if exc.code else exc}",
              file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(json.dumps(provenance, indent=1))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from gateway.ledger import open_ledger

    settings = _settings(args)
    logging.getLogger("gateway.fabric").setLevel(logging.ERROR)
    connection = open_ledger(settings)
    try:
        serving, replaced = _lifecycle(settings, connection).rollback()
    finally:
        connection.close()
    now = serving or "the previous model (from the gateway's next start)"
    print(f"serving {now}; {replaced} kept as the previous model")
    return 0


def _model_card(args: argparse.Namespace) -> int:
    from gateway.ledger import open_ledger
    from gateway.lifecycle import artifact_id, card_of
    from recommender.artifacts import MANIFEST_FILE

    settings = _settings(args)
    model_id = args.model_id or artifact_id(settings.model_dir)
    if model_id is None:
        print(f"error: no model in {settings.model_dir}", file=sys.stderr)
        return 1
    if args.model_id is None:  # the serving model's artifact carries its card
        manifest = json.loads((settings.model_dir / MANIFEST_FILE).read_bytes())
        _print_card(model_id, card_of(manifest.get("metadata", {})))
        return 0
    logging.getLogger("gateway.fabric").setLevel(logging.ERROR)
    connection = open_ledger(settings)
    try:
        record = connection.ledger.model_provenance(model_id)
    finally:
        connection.close()
    _print_card(model_id, card_of(record))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prefshare-gateway", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-file", type=Path,
                   help="the gateway's settings (dotenv); the environment overrides them")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTPS API")
    serve.add_argument("--workers", type=int, default=None,
                       help="worker processes (default: the workers setting, 1); more than "
                            "one needs a PostgreSQL database_url")
    issue = sub.add_parser("issue-credential", help="issue a store credential (printed once)")
    issue.add_argument("--store", required=True)
    issue.add_argument("--admin", action="store_true", help="an admin credential")
    issue.add_argument("--lifetime-days", type=int, help="default credential_lifetime_days")
    listing = sub.add_parser("list-credentials", help="every credential, without secrets")
    listing.add_argument("--store", help="only this store's")
    revoke = sub.add_parser("revoke-credential", help="revoke a credential by its key id")
    revoke.add_argument("--key-id", required=True)
    rotate = sub.add_parser("rotate-credential",
                            help="issue a successor (printed once); the old one ends after "
                                 "credential_rotation_grace_s")
    rotate.add_argument("--key-id", required=True)
    rotate.add_argument("--lifetime-days", type=int)
    sub.add_parser("check", help="ask a running gateway for its health")
    train = sub.add_parser("train", help="train the retailer's model from the ledger (its "
                                          "provenance and card recorded there)")
    where = train.add_mutually_exclusive_group(required=True)
    where.add_argument("--output", type=Path, help="a new artifact directory (not installed)")
    where.add_argument("--install", action="store_true",
                       help="install it if it passes the gate (docs/gateway.md, \"Model life "
                            "cycle\"): the running gateway serves it at once")
    sub.add_parser("rollback", help="serve the previous model again (a second rollback "
                                    "undoes the first)")
    card = sub.add_parser("model-card", help="the serving model's card (or --model-id's, "
                                             "from the ledger)")
    card.add_argument("--model-id", help="a model's id: its card as recorded on the ledger")
    args = p.parse_args(argv)
    try:
        commands = {"serve": _serve, "issue-credential": _issue, "list-credentials": _list,
                    "revoke-credential": _revoke, "rotate-credential": _rotate,
                    "check": _check, "train": _train, "rollback": _rollback,
                    "model-card": _model_card}
        return commands[args.command](args)
    except ValidationError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:  # the same rule a route applies (an unknown store)
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
