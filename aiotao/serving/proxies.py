"""``X-Forwarded-*`` headers, believed only from trusted proxies.

Any client can send ``X-Forwarded-For: 10.0.0.1``.  The headers are honoured
only when the connection comes from an address in the trusted list, with the
semantics of gunicorn's ``forwarded_allow_ips``: addresses and CIDR
networks, comma separated, ``*`` to trust every peer, and connections with no
IP address (UNIX sockets) trusted, since only local processes reach them.

From a trusted peer:

* ``X-Forwarded-For`` gives ``REMOTE_ADDR``: the right-most address that is
  not itself a trusted proxy (addresses left of it were written by the
  client and prove nothing);
* ``X-Forwarded-Proto`` gives ``wsgi.url_scheme`` (``http`` or ``https``);
* ``X-Forwarded-Host`` gives ``HTTP_HOST``.

>>> proxies = TrustedProxies.parse('127.0.0.1, 10.0.0.0/8')
>>> proxies.forwarded('127.0.0.1', {
...     'x-forwarded-for': '203.0.113.7, 10.1.2.3', 'x-forwarded-proto': 'https'})
Forwarded(remote_addr='203.0.113.7', scheme='https', host=None)
>>> proxies.forwarded('198.51.100.1', {'x-forwarded-for': '1.2.3.4'})
Forwarded(remote_addr=None, scheme=None, host=None)
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from typing import NamedTuple

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: gunicorn's default: the ``FORWARDED_ALLOW_IPS`` variable, else loopback.
DEFAULT_FORWARDED_ALLOW_IPS = '127.0.0.1,::1'


def default_forwarded_allow_ips() -> str:
    return os.environ.get('FORWARDED_ALLOW_IPS', DEFAULT_FORWARDED_ALLOW_IPS)


class Forwarded(NamedTuple):
    """What trusted forwarding headers say; ``None`` where they say nothing."""

    remote_addr: str | None
    scheme: str | None
    host: str | None


_NOTHING = Forwarded(None, None, None)
_SCHEMES = {'http': 'http', 'https': 'https', 'ws': 'http', 'wss': 'https'}


class TrustedProxies:
    """The peers whose ``X-Forwarded-*`` headers are believed."""

    def __init__(self, networks: Iterable[IPNetwork], *, trust_all: bool = False):
        self.networks = tuple(networks)
        self.trust_all = trust_all

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> TrustedProxies:
        """Parse ``forwarded_allow_ips``: a comma separated string or a list.

        Raises :class:`ValueError` naming the entry that is not an address
        or a network.
        """
        entries = spec.split(',') if isinstance(spec, str) else spec
        networks: list[IPNetwork] = []
        trust_all = False
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            if entry == '*':
                trust_all = True
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f'forwarded_allow_ips: {entry!r} is not an IP address or '
                    f'network (use e.g. "127.0.0.1,10.0.0.0/8", or "*")'
                ) from None
        return cls(networks, trust_all=trust_all)

    def __repr__(self) -> str:
        shown = ['*'] if self.trust_all else [str(n) for n in self.networks]
        return f'TrustedProxies({",".join(shown)!r})'

    def trusts(self, host: str | None) -> bool:
        """Whether a peer at ``host`` (``None``: a UNIX socket) is trusted."""
        if host is None or self.trust_all:
            return True
        try:
            address = ipaddress.ip_address(host.split('%', 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def forwarded(self, peer: str | None, headers: Mapping[str, str]) -> Forwarded:
        """Read the forwarding headers (lower-case names) sent by ``peer``."""
        if not self.trusts(peer):
            return _NOTHING
        remote_addr = self._client_address(headers.get('x-forwarded-for'))
        scheme = _last_item(headers.get('x-forwarded-proto'))
        scheme = _SCHEMES.get(scheme.lower()) if scheme else None
        host = _last_item(headers.get('x-forwarded-host'))
        return Forwarded(remote_addr, scheme, host or None)

    def _client_address(self, value: str | None) -> str | None:
        if not value:
            return None
        hops = [hop.strip() for hop in value.split(',') if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        # every hop is a trusted proxy: the first one is as far as we know
        return hops[0] if hops else None


def _last_item(value: str | None) -> str | None:
    if not value:
        return None
    return value.rsplit(',', 1)[-1].strip()
