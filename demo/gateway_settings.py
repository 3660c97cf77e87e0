"""A retailer's gateway settings on a network of this checkout, read as the gateway reads them.

The network generates the retailer's env file (:func:`network.gateway_env.write_gateway_env`)
and :func:`gateway.settings.read_settings` reads it, exactly as ``prefshare-gateway
--env-file F`` does; the demo, the tests and the benchmarks change a few values on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.settings import GatewaySettings, read_settings
from network.description import Consortium
from network.gateway_env import write_gateway_env
from network.layout import RunLayout


def gateway_settings(consortium: Consortium, retailer: str, layout: RunLayout,
                     **overrides: Any) -> GatewaySettings:
    """``retailer``'s settings from its generated env file, with ``overrides`` on top.

    With another ``data_dir`` and no ``catalogue_path``, the catalogue is that folder's
    ``catalogue.json`` when one is there (a folder of its own never picks up the default
    folder's file).

    Raises:
        network.errors.UnknownRetailer: no retailer of that name.
        ValueError: the gateway identity is not enrolled, or a value is invalid.
    """
    env_file = write_gateway_env(consortium, retailer, layout)
    if "data_dir" in overrides and "catalogue_path" not in overrides:
        catalogue = Path(overrides["data_dir"]) / "catalogue.json"
        overrides["catalogue_path"] = catalogue if catalogue.is_file() else None
    return read_settings(env_file, **overrides)
