"""A console command's way to make the running gateway serve what is in its model directory.

The command runs beside the gateway with the same settings (and so the same credential
database): it issues itself an admin credential of five minutes, calls
``POST /v1/admin/model`` on the gateway's HTTPS address, and revokes the credential. When the
gateway is not running, the artifact in the model directory is what it serves when it starts.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from gateway.settings import GatewaySettings
from gateway.stores import CredentialStore, Role, key_id_of

LIFETIME = timedelta(minutes=5)


class InstallRefused(Exception):
    """The running gateway refused the artifact (its error code)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"the gateway refused the model: {code}")
        self.code = code


def remote_installer(settings: GatewaySettings) -> Callable[[Path], str | None]:
    """An installer (gateway/lifecycle.py) that asks the running gateway to install its
    model directory and returns the id it serves; None when no gateway answers (the files
    stay in place and serve from its next start). Raises InstallRefused."""

    def install(model_dir: Path) -> str | None:
        if model_dir != settings.model_dir:
            raise ValueError("the gateway installs only its own model directory")
        store = CredentialStore(settings.data_dir / "gateway.sqlite3")
        credential = store.issue("hq", Role.ADMIN, lifetime=LIFETIME)
        context = ssl.create_default_context(cafile=str(settings.peer_tls_root))
        request = urllib.request.Request(
            f"https://{settings.http_host}:{settings.http_port}/v1/admin/model", method="POST",
            headers={"Authorization": f"Bearer {credential}"})
        try:
            with urllib.request.urlopen(request, context=context, timeout=60) as answer:
                return str(json.load(answer)["model_id"])
        except urllib.error.HTTPError as exc:
            raise InstallRefused(str(json.load(exc).get("error", {}).get("code"))) from None
        except (urllib.error.URLError, OSError):
            return None
        finally:
            store.revoke(key_id_of(credential))

    return install
