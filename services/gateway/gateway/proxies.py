"""Who the client is, and whether it came over TLS, when proxies stand in front
of the gateway. Forwarded headers are honoured only from the proxies the
settings trust: from anyone else they are whatever the caller chose to write."""

import ipaddress
from dataclasses import dataclass

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(addresses: str) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 192.168.1.7"`: comma-separated addresses or CIDR blocks."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in addresses.split(",") if part.strip())


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def _peer(self, connection: ASGIConnection) -> str:
        return connection.client.host if connection.client else ""

    def client_address(self, connection: ASGIConnection) -> str:
        """The peer, unless it is a trusted proxy: then the nearest address in
        X-Forwarded-For (read from the right) that is not one of ours."""
        peer = self._peer(connection)
        if not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in ",".join(connection.headers.getall("X-Forwarded-For", [])).split(",")]
        for hop in reversed([hop for hop in hops if hop]):
            if not self.trusts(hop):
                return hop
        return peer

    def came_over_tls(self, connection: ASGIConnection) -> bool:
        if connection.scope.get("scheme") == "https":
            return True
        if not self.trusts(self._peer(connection)):
            return False
        # The proxy nearest us appends last; that is the one we trust.
        return connection.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower() == "https"
