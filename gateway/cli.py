"""`prefshare-gateway [--env-file F] COMMAND`: serve a retailer's gateway, issue store
credentials, check it, train its model.

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
from pathlib import Path

from pydantic import ValidationError

from gateway.settings import GatewaySettings, get_settings
from gateway.stores import CredentialStore, Role


class SettingsFileMissing(ValueError):
    """``--env-file`` names no file (the settings library would silently read none)."""


def _settings(args: argparse.Namespace) -> GatewaySettings:
    if args.env_file is not None and not args.env_file.is_file():
        raise SettingsFileMissing(f"no env file at {args.env_file}")
    return get_settings(args.env_file.resolve() if args.env_file else None)


def _one_line(exc: ValidationError) -> str:
    """A settings error in one line, each problem as ``NAME: what is wrong``."""
    return "invalid settings: " + "; ".join(
        "PREFSHARE_GATEWAY_" + ".".join(str(p) for p in e["loc"]).upper() + ": " + e["msg"]
        for e in exc.errors())


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway import logs
    from gateway.app import create_app

    settings = _settings(args)
    logs.configure()
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port,
                ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key,
                log_config=None, access_log=False)
    return 0


def _issue(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = CredentialStore(settings.data_dir / "gateway.sqlite3")
    credential = store.issue(args.store, Role.ADMIN if args.admin else Role.STORE)
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


def _train(args: argparse.Namespace) -> int:
    from gateway.fabric.errors import GatewayError
    from gateway.ledger import open_ledger
    from gateway.members import MemberUnavailable
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
        provenance = train_from_ledger(connection.ledger,
                                       reader_sharing(settings, connection), settings.channel,
                                       catalogue, args.output)
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="prefshare-gateway", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-file", type=Path,
                   help="the gateway's settings (dotenv); the environment overrides them")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the HTTPS API")
    issue = sub.add_parser("issue-credential", help="issue a store credential (printed once)")
    issue.add_argument("--store", required=True)
    issue.add_argument("--admin", action="store_true", help="an admin credential")
    sub.add_parser("check", help="ask a running gateway for its health")
    train = sub.add_parser("train", help="train the retailer's model from the ledger")
    train.add_argument("--output", type=Path, required=True, help="a new artifact directory")
    args = p.parse_args(argv)
    try:
        commands = {"serve": _serve, "issue-credential": _issue, "check": _check,
                    "train": _train}
        return commands[args.command](args)
    except ValidationError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
