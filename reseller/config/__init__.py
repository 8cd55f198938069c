"""The YAML config file → validated, typed, immutable config.

Every problem is reported with its key path (`providers[1].url: not a URL`), all at once.
A key left out (or null) takes the default of the dataclass field it fills: the dataclasses are
the only place a default is written, so the file's reader and `Config()` cannot disagree.
Secrets are never read from the file: it names environment variables (`key_env`, `dsn_env`).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from reseller import errors, spellings
from reseller.config.alerts import AlertsConfig, read_alerts
from reseller.config.catalog import (
    ImportConfig,
    PricingConfig,
    ServiceConfig,
    read_currency_rates,
    read_imports,
    read_pricing,
    read_services,
)
from reseller.config.console import ConsoleConfig, read_console
from reseller.config.reader import (
    Section,
    boolean,
    currency,
    decimal,
    env_name,
    integer,
    matching,
    text,
    url,
)
from reseller.config.routing import RoutingConfig, read_routing
from reseller.states import OrderStatus

__all__ = [
    "Config",
    "ImportConfig",
    "LiveConfig",
    "PricingConfig",
    "ProviderConfig",
    "ServiceConfig",
]

DEFAULT_PATH = Path("config.yaml")
DEFAULT_METRICS_PORT = 9108


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # /metrics tells whoever reaches it the order volume and the providers' balances: by
    # default it has a listener of its own on loopback, apart from the public API.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT
    metrics_on_api: bool = False  # True: /metrics on the API listener, as public as the API
    # A connection that sends no complete request header for this long is closed, whether it
    # is new, idle between requests, or trickling its header byte by byte.
    idle_timeout_seconds: Decimal = Decimal(15)
    body_timeout_seconds: Decimal = Decimal(10)  # from the header's end to the body's end
    max_connections: int = 1000  # open API connections per process; past it: 503 at once


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    dsn_env: str = "RESELLER_DSN"
    data_dir: Path | None = None
    pool_min: int = 2
    pool_max: int = 10
    # A statement (lock waits included) or a wait for a pooled connection longer than this
    # fails as "temporarily unavailable" instead of holding the request.
    statement_timeout_seconds: Decimal = Decimal(5)
    # The embedded server is restarted after it dies, with backoff, for at most this long; then
    # the process exits non-zero for its supervisor (systemd) to restart.
    embedded_restart_seconds: Decimal = Decimal(60)

    def dsn(self) -> str | None:
        """The server's DSN from the environment; None means: run the embedded server."""
        return os.environ.get(self.dsn_env) or None

    def embedded_dir(self) -> Path:
        """Where the embedded server keeps its data: $RESELLER_DATA_DIR, the file, the default."""
        if env := os.environ.get("RESELLER_DATA_DIR"):
            return Path(env).expanduser().absolute()
        if self.data_dir is not None:
            return self.data_dir
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / "reseller"


@dataclass(frozen=True, slots=True)
class ApiConfig:
    rate_limit_per_minute: int = 300
    currency: str = "USD"
    failed_auth_per_minute: int = 60  # wrong keys per client address before it gets 429s
    # Wrong keys per minute from all addresses together (many addresses: a botnet, or a proxy
    # header set per request); past it every wrong key is answered after the delay below.
    failed_auth_per_minute_all: int = 1200
    # How long such a 429 takes: a client flooding on keep-alive connections then sends one
    # request per connection per delay, instead of as many as the server can answer.
    failed_auth_delay_seconds: Decimal = Decimal(1)
    # The header a trusted reverse proxy puts the client's address in (its first entry);
    # None: the connection's own address (never trust a header a client could set itself).
    client_address_header: str | None = None
    # The environment variable holding a Redis URL: the request limits then hold across every
    # process and host sharing that Redis. None: each process keeps its own buckets.
    rate_limit_redis_env: str | None = None


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    inline_errors: bool = False  # `add` answers an upstream refusal itself (no charge kept)
    max_attempts: int = 5  # connection failures before an order counts as refused
    retry_seconds: Decimal = Decimal(2)  # first backoff; doubles per attempt
    scan_seconds: Decimal = Decimal(1)  # how often the durable queue is scanned
    abandoned_after_seconds: int = 300  # a call in flight this long belongs to a dead process
    max_in_flight: int = 1000  # dispatch tasks per process
    stop_grace_seconds: Decimal = Decimal(10)  # in-flight calls may finish this long at SIGTERM
    # A new order whose link has an active order on the same upstream service waits; it looks
    # again this often (and at once when that order is final).
    link_wait_seconds: Decimal = Decimal(60)
    # A provider that keeps refusing a link as busy (an order we do not know of, placed on the
    # panel by someone else) is waited for this long from the order's placing; then its
    # refusal counts as one, and the next candidate is tried.
    link_wait_max_minutes: int = 1440
    # How providers word "this link already has an active order" (case-insensitive parts of
    # the refusal): such a refusal is a wait, not a failover and not a cancel.
    active_link_refusals: tuple[str, ...] = (
        "active order",
        "link duplicate",
        "duplicate link",
        "link is duplicated",
        "already in progress",
        "already have an order",
        "already has an order",
        "order with this link",
        "wait until order",
    )


@dataclass(frozen=True, slots=True)
class SyncConfig:
    status_seconds: Decimal = Decimal(60)  # how often the status job runs
    min_poll_seconds: Decimal = Decimal(30)  # an order is polled at most this often
    refill_seconds: Decimal = Decimal(120)
    balance_seconds: Decimal = Decimal(300)
    catalog_seconds: Decimal = Decimal(3600)
    tier_seconds: Decimal = Decimal(600)  # how often spend tiers are re-evaluated
    max_poll_errors: int = 10  # "Incorrect order ID" answers before an order is flagged
    max_age_days: int = 90  # older unsettled orders stop being polled and are reported
    # A provider's charge above what its rate and final status say by more than this (in its
    # currency) is recorded as a loss; less is rounding.
    loss_tolerance: Decimal = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    url: str
    key_env: str
    currency: str = "USD"
    timeout: Decimal = Decimal(30)
    max_concurrency: int = 10
    requests_per_minute: int = 600
    balance_alert: Decimal | None = None  # warn (log, CLI, metric) below this balance
    pause_below: Decimal | None = None  # below this balance, send no new orders (they wait)
    # Its own status words (keyed by spellings.alias_key) → API statuses, beside the built-in
    # ones.
    status_aliases: Mapping[str, str] = field(default_factory=dict)
    # An answer outside the table (orders.strict) freezes its order; off: settled as before.
    strict_answers: bool = True

    def key(self) -> str | None:
        return os.environ.get(self.key_env) or None


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    providers: tuple[ProviderConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    imports: tuple[ImportConfig, ...] = ()
    pricing: PricingConfig = field(default_factory=PricingConfig)
    currency_rates: dict[str, Decimal] = field(default_factory=dict)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    admin: ConsoleConfig = field(default_factory=ConsoleConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    source: Path | None = None

    def missing_secrets(self) -> list[str]:
        """Environment variables the file names that are not set (`serve` warns of them,
        `config check` and a reload refuse)."""
        return [
            *(
                f"providers[{i}].key_env: environment variable {p.key_env} is not set"
                for i, p in enumerate(self.providers)
                if p.key() is None
            ),
            *self.alerts.missing_secrets(),  # a bot token that is not set: no Telegram alerts
            *self.admin.missing_secrets(),  # no console without its cookie key
        ]


class LiveConfig:
    """The config in force; replaced whole by a successful reload (SIGHUP)."""

    def __init__(self, config: Config) -> None:
        self.current = config


def resolve_path(explicit: str | None) -> Path | None:
    """--config FILE, else $RESELLER_CONFIG, else ./config.yaml if present, else None (defaults)."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("RESELLER_CONFIG"):
        return Path(env)
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def load(path: Path | None) -> Config:
    """Read and validate a config file; None gives the defaults. Raises ConfigError."""
    if path is None:
        return Config()
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(raw, source=path)


def parse(raw: str, *, source: Path | None = None) -> Config:
    name = source or "<config>"
    try:
        data = yaml.load(raw, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        raise errors.ConfigError(f"{name}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    problems: list[str] = []
    root = Section(data, "", problems)
    config = _read(root, source)
    if problems:
        raise errors.ConfigError(f"{name}: invalid config:\n  " + "\n  ".join(problems))
    return config


def _read(root: Section, source: Path | None) -> Config:
    server = root.section("server")
    database = root.section("database")
    api = root.section("api")
    dispatch = root.section("dispatch")
    sync = root.section("sync")
    database.forbid("dsn", "put the DSN in an environment variable and name it in database.dsn_env")
    providers = tuple(_provider(p) for p in root.items("providers"))
    names = [p.name for p in providers]
    services = read_services(root, names)
    config = Config(
        server=_server(server),
        database=DatabaseConfig(
            **database.read(
                DatabaseConfig,
                dsn_env=env_name,
                data_dir=_folder,
                pool_min=integer(1, 1000),
                pool_max=integer(1, 1000),
                statement_timeout_seconds=decimal(Decimal("0.1"), Decimal(3600)),
                embedded_restart_seconds=decimal(Decimal(1), Decimal(3600)),
            )
        ),
        api=ApiConfig(
            **api.read(
                ApiConfig,
                rate_limit_per_minute=integer(1, 10**9),
                currency=currency,
                failed_auth_per_minute=integer(1, 10**9),
                failed_auth_per_minute_all=integer(1, 10**9),
                failed_auth_delay_seconds=decimal(Decimal(0), Decimal(60)),
                client_address_header=text,
                rate_limit_redis_env=env_name,
            )
        ),
        dispatch=DispatchConfig(
            **dispatch.read(
                DispatchConfig,
                inline_errors=boolean,
                max_attempts=integer(1, 100),
                retry_seconds=decimal(Decimal("0.01"), Decimal(3600)),
                scan_seconds=decimal(Decimal("0.01"), Decimal(60)),
                abandoned_after_seconds=integer(30, 86400),
                max_in_flight=integer(1, 100_000),
                stop_grace_seconds=decimal(Decimal(0), Decimal(600)),
                link_wait_seconds=decimal(Decimal("0.01"), Decimal(86400)),
                link_wait_max_minutes=integer(1, 60 * 24 * 90),
                active_link_refusals=_phrases,
            )
        ),
        sync=_sync(sync),
        providers=providers,
        services=services,
        imports=(imports := read_imports(root, names)),
        pricing=read_pricing(root, names, services, imports),
        currency_rates=read_currency_rates(root),
        alerts=read_alerts(root),
        admin=read_console(root),
        routing=read_routing(root),
        source=source,
    )
    for section in (server, database, api, dispatch, sync):
        section.finish()
    pool = config.database
    if pool.pool_min is not None and pool.pool_max is not None and pool.pool_min > pool.pool_max:
        root.problem("database.pool_min", "greater than database.pool_max")
    root.unique("providers", names, "name")
    root.unique("services", [s.id for s in services], "id")
    for i, p in enumerate(providers):
        known = (config.api.currency, *config.currency_rates)
        if p.currency is not None and p.currency not in known:
            root.problem(f"providers[{i}].currency", f"no rate for {p.currency} in currency_rates")
    root.finish()
    return config


def _server(s: Section) -> ServerConfig:
    server = ServerConfig(
        **s.read(
            ServerConfig,
            host=text,
            port=integer(1, 65535),
            metrics_host=text,
            metrics_port=integer(1, 65535),
            metrics_on_api=boolean,
            idle_timeout_seconds=decimal(Decimal("0.1"), Decimal(3600)),
            body_timeout_seconds=decimal(Decimal("0.1"), Decimal(3600)),
            max_connections=integer(1, 1_000_000),
        )
    )
    default = ServerConfig()
    if server.metrics_on_api:
        # Compared with the defaults: a metrics address next to metrics_on_api is a mistake.
        for key in ("metrics_host", "metrics_port"):
            if getattr(server, key) != getattr(default, key):
                s.problem(key, "not used when server.metrics_on_api is true; remove one of them")
    elif server.metrics_port == server.port:
        s.problem(
            "metrics_port",
            "the API's port; for /metrics on the API listener set server.metrics_on_api: true",
        )
    return server


def _phrases(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError("must be a list of non-empty phrases")
    return tuple(v.strip().lower() for v in value)


def _sync(s: Section) -> SyncConfig:
    seconds = decimal(Decimal("0.01"), Decimal(86400))
    return SyncConfig(
        **s.read(
            SyncConfig,
            status_seconds=seconds,
            min_poll_seconds=seconds,
            refill_seconds=seconds,
            balance_seconds=seconds,
            catalog_seconds=seconds,
            tier_seconds=seconds,
            max_poll_errors=integer(1, 1000),
            max_age_days=integer(1, 3650),
            loss_tolerance=decimal(Decimal(0), Decimal(1000)),
        )
    )


def _provider(s: Section) -> ProviderConfig:
    s.forbid("key", "put the key in an environment variable and name it in key_env")
    amount = decimal(Decimal(0), Decimal("1e12"))
    provider = ProviderConfig(
        **s.read(
            ProviderConfig,
            name=_name,
            url=url,
            key_env=env_name,
            currency=currency,
            timeout=decimal(Decimal("0.1"), Decimal(600)),
            max_concurrency=integer(1, 1000),
            requests_per_minute=integer(1, 10**6),
            balance_alert=amount,
            pause_below=amount,
            status_aliases=_status_aliases,
            strict_answers=boolean,
        )
    )
    s.finish()
    return provider


def _status_aliases(value: Any) -> dict[str, str]:
    """`{"done": Completed, ...}`: each spelling (case-insensitively unique, not already a
    built-in one) to one of the six API statuses."""
    if not isinstance(value, dict):
        raise ValueError('must be a mapping of spellings to statuses, e.g. {"done": Completed}')
    aliases: dict[str, str] = {}
    for spelling, status in value.items():
        key = spellings.alias_key(str(spelling))
        if not key:
            raise ValueError(f"{spelling!r}: an empty spelling")
        if status not in tuple(OrderStatus):
            known = ", ".join(OrderStatus)
            raise ValueError(f"{spelling!r}: {status!r} is not an API status ({known})")
        if key in aliases:
            raise ValueError(f"{spelling!r}: given twice (spellings ignore case, '_' and '-')")
        if (builtin := spellings.status_name(key)) is not None:
            raise ValueError(f"{spelling!r}: already a known spelling of {builtin}")
        aliases[key] = str(status)
    return aliases


_name = matching(r"[A-Za-z0-9_.-]{1,64}", "use 1-64 letters, digits, '_', '.' or '-'")


def _folder(value: Any) -> Path:
    return Path(text(value)).expanduser().absolute()


class _DecimalLoader(yaml.SafeLoader):
    """YAML floats become Decimal, exactly as written: no binary rounding of prices. A key
    written twice in one mapping is an error: YAML would keep the last silently, and a second
    `api:` section would drop the first's settings without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    written = str(loader.construct_scalar(node)).replace("_", "")
    try:
        return Decimal(written)
    except ArithmeticError:
        return Decimal("NaN")  # .inf / .nan: refused by the decimal() check with a clear message


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
