"""Where an organisation's processes run: a command prefix per host of the description.

The consortium description names each organisation's *host* (an IP address) and nothing
about how to get there. A :class:`Placement` supplies that: for each host, the argv prefix
that runs a command on it. The default placement is empty, so every command runs here,
unchanged, which is right when every host is this machine (``127.0.0.1``). A test that gives
each organisation a network namespace of its own places each host with
``("ip", "netns", "exec", <namespace>)``; another deployment could use a remote shell.

Everything that must happen *on* an organisation's host goes through its placement: its
processes (the CA server), every ``fabric-ca-client`` call for its identities, and the check
that its ports are free (a port on ``10.x.y.z`` can only be bound where that address exists).
Health checks do not: they go from the caller over the network, so they show what an operator
on this machine sees, and a host cut off from the network reads as unhealthy.

Example::

    >>> p = Placement.of({"10.231.7.2": ["ip", "netns", "exec", "psns-ab12-northwind"]})
    >>> p.command("10.231.7.2", ["fabric-ca-client", "getcainfo"])
    ['ip', 'netns', 'exec', 'psns-ab12-northwind', 'fabric-ca-client', 'getcainfo']
    >>> p.command("127.0.0.1", ["true"])
    ['true']
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Placement:
    """A command prefix per host; hosts not named run commands here, unchanged.

    Build one with :meth:`of`. ``prefixes`` is kept as sorted pairs so a placement is an
    immutable, hashable value like the plan it goes with.
    """

    prefixes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, prefixes: Mapping[str, Sequence[str]]) -> Placement:
        """A placement from ``{host: argv prefix}``.

        Raises:
            ValueError: a host is not an IP address (hosts in the description are IP
                addresses), or a prefix is empty (leave the host out instead).
        """
        for host, prefix in prefixes.items():
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"placement host must be an IP address, got {host!r}") from None
            if not prefix:
                raise ValueError(f"placement prefix for {host} is empty; leave the host out")
        return cls(tuple(sorted((h, tuple(p)) for h, p in prefixes.items())))

    def prefix(self, host: str | None) -> tuple[str, ...]:
        """The argv prefix for ``host``; ``()`` for a host not placed, or ``None`` (here)."""
        return dict(self.prefixes).get(host, ()) if host is not None else ()

    def is_placed(self, host: str) -> bool:
        return bool(self.prefix(host))

    def command(self, host: str | None, argv: Sequence[str]) -> list[str]:
        """``argv`` as it must be run to run on ``host``."""
        return [*self.prefix(host), *argv]

    def only(self, hosts: Iterable[str]) -> Placement:
        """This placement for ``hosts`` only (a membership change adds or drops a host)."""
        known = set(hosts)
        return Placement(tuple(p for p in self.prefixes if p[0] in known))

    def check_hosts(self, hosts: Iterable[str]) -> None:
        """Raise ``ValueError`` when the placement names a host none of ``hosts`` is.

        A typo in a test's or a deployment's placement would otherwise silently run that
        organisation's processes here.
        """
        known = set(hosts)
        stray = sorted(h for h, _ in self.prefixes if h not in known)
        if stray:
            raise ValueError(f"placement names hosts no node runs on: {', '.join(stray)}")
