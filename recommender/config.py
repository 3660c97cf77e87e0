"""Hyper-parameters of the hybrid LightFM model: the only place they are defined.

Example::

    >>> ModelConfig(no_components=64, epochs=20).loss
    'warp'
    >>> ModelConfig(learning_rate=-1)
    Traceback (most recent call last):
    ...
    ValueError: ...
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Loss = Literal["warp", "bpr", "logistic", "warp-kos"]


class ModelConfig(BaseModel):
    """Validated, immutable LightFM hyper-parameters.

    Invalid values raise ``ValueError`` (pydantic's ``ValidationError`` is a subclass).
    ``seed`` makes training deterministic when ``num_threads`` is 1; with more threads LightFM
    trains Hogwild-style and results vary slightly between runs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    no_components: int = Field(default=32, ge=1, le=1024)
    loss: Loss = "warp"
    learning_rate: float = Field(default=0.05, gt=0, le=10)
    item_alpha: float = Field(default=1e-6, ge=0)
    user_alpha: float = Field(default=1e-6, ge=0)
    max_sampled: int = Field(default=10, ge=1)
    epochs: int = Field(default=30, ge=1, le=10_000)
    seed: int = Field(default=42, ge=0, lt=2**32)
    num_threads: int = Field(default=1, ge=1, le=256)
