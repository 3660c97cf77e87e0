"""Composite state keys, rendered exactly as the Fabric shim renders them.

Each record module says which key it lives under (``consent~<customer>~<consent>``,
``pref~<customer>~<retailer>~<event>``, ...); this module holds the one representation
they share, so the contract can pass ``key.object_type, list(key.attributes)`` to
``stub.create_composite_key`` or use :meth:`CompositeKey.render` directly.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Fabric's composite-key namespace and separator (``\\x00``), and the rune it refuses.
_NAMESPACE = "\x00"
_SEPARATOR = "\x00"
_MAX_RUNE = "\U0010ffff"


@dataclass(frozen=True)
class CompositeKey:
    """``object_type`` plus attribute parts; a prefix when used for a partial-key query.

    >>> CompositeKey("consent", ("c_x", "k1")).render()
    '\\x00consent\\x00c_x\\x00k1\\x00'
    """

    object_type: str
    attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for part in (self.object_type, *self.attributes):
            if not isinstance(part, str) or _SEPARATOR in part or _MAX_RUNE in part:
                raise ValueError("composite-key parts are strings without U+0000 or U+10FFFF")
        if not self.object_type:
            raise ValueError("composite-key object type must not be empty")

    def render(self) -> str:
        """The state key string, identical to ``stub.create_composite_key``."""
        parts = (self.object_type, *self.attributes)
        return _NAMESPACE + "".join(part + _SEPARATOR for part in parts)
