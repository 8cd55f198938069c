"""Upstream providers: one client per provider named in the config."""

from __future__ import annotations

from collections.abc import Iterable

from reseller.config import ProviderConfig
from reseller.upstream.client import ProviderClient, UpstreamService

__all__ = ["ProviderClient", "UpstreamService", "Upstreams"]


class Upstreams:
    """The provider clients by name; rebuilt for changed providers when the config reloads."""

    def __init__(self, providers: Iterable[ProviderConfig] = ()) -> None:
        self._clients: dict[str, ProviderClient] = {}
        self._retired: list[ProviderClient] = []
        self.update(providers)

    def __getitem__(self, name: str) -> ProviderClient:
        return self._clients[name]

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._clients.values())

    def update(self, providers: Iterable[ProviderConfig]) -> None:
        """Keep clients whose provider config is unchanged (and their open connections)."""
        fresh: dict[str, ProviderClient] = {}
        for provider in providers:
            current = self._clients.get(provider.name)
            fresh[provider.name] = (
                current
                if current is not None and current.provider == provider
                else ProviderClient(provider)
            )
        self._retired += [c for n, c in self._clients.items() if fresh.get(n) is not c]
        self._clients = fresh

    async def close(self) -> None:
        for client in [*self._clients.values(), *self._retired]:
            await client.close()
        self._retired.clear()
