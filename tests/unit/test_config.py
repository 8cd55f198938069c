"""Config files: typed values, every problem named by its key path, secrets refused."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from reseller import config, errors

EXAMPLE = Path(__file__).parent.parent.parent / "config.example.yaml"

VALID = """
providers:
  - name: sim
    url: http://127.0.0.1:9000/api/v2
    key_env: SIM_KEY
services:
  - {id: 7, name: Likes, category: IG, provider: sim, upstream_service: 12,
     rate: 0.30000000000000004, min: 10, max: 500}
"""


# A provider named p, for service cases.
P = "providers:\n  - {name: p, url: http://p/api, key_env: P}\n"


def problems_of(text: str) -> str:
    with pytest.raises(errors.ConfigError) as caught:
        config.parse(text)
    return caught.value.message


def test_the_example_file_is_valid_and_documents_defaults() -> None:
    loaded = config.load(EXAMPLE)
    assert loaded.server.port == 8080
    assert loaded.api.rate_limit_per_minute == 300
    assert loaded.providers[0].key_env == "MAINPANEL_API_KEY"
    assert loaded.services[0].rate == Decimal("0.90")


def test_no_file_means_defaults() -> None:
    assert config.load(None) == config.Config()


def test_metrics_default_to_a_loopback_listener_of_their_own() -> None:
    server = config.Config().server
    assert (server.metrics_on_api, server.metrics_host) == (False, "127.0.0.1")
    assert server.metrics_port == 9108 != server.port
    assert config.parse("server: {metrics_on_api: true}").server.metrics_on_api is True


# The sections whose every field is a key of the same name.
PLAIN = {
    "server": config.ServerConfig,
    "database": config.DatabaseConfig,
    "api": config.ApiConfig,
    "dispatch": config.DispatchConfig,
    "sync": config.SyncConfig,
}


def every_key_null(cls: type) -> str:
    return "{" + ", ".join(f"{f.name}: null" for f in dataclasses.fields(cls)) + "}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        *(f"{name}: {{}}" for name in PLAIN),
        *(f"{name}: {every_key_null(cls)}" for name, cls in PLAIN.items()),
        "pricing: {}",
        "pricing: {markup_percent: null, min_rate: null, providers: null, categories: null,"
        " rounding: {decimals: null, mode: null}}",
    ],
)
def test_a_key_left_out_or_null_takes_its_dataclass_default(text: str) -> None:
    loaded, default = config.parse(text), config.Config()
    for f in dataclasses.fields(config.Config):
        assert getattr(loaded, f.name) == getattr(default, f.name), f.name


def test_list_entries_with_only_their_required_keys_take_dataclass_defaults() -> None:
    loaded = config.parse(
        P + "services:\n  - {id: 1, provider: p, upstream_service: 12}\n"
        "imports:\n  - {provider: p, category: 'IG*', first_id: 100}\n"
    )
    assert loaded.providers == (config.ProviderConfig(name="p", url="http://p/api", key_env="P"),)
    candidate = config.catalog.Candidate("p", "12")
    assert loaded.services == (config.ServiceConfig(id=1, upstreams=(candidate,)),)
    assert loaded.imports == (config.ImportConfig(provider="p", category="IG*", first_id=100),)


def test_rates_are_exact_decimals_not_binary_floats() -> None:
    service = config.parse(VALID).services[0]
    assert service.rate == Decimal("0.30000000000000004")
    assert service.upstreams[0].service == "12"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "providers:\n  - {name: a, url: http://a/x, key_env: A}\n"
            "  - {name: b, url: nope, key_env: B}",
            "providers[1].url: not a URL",
        ),
        ("server: {port: 70000}", "server.port: must be between 1 and 65535"),
        ("server: {port: '80'}", "server.port: must be a whole number"),
        ("server: {prot: 80}", "server.prot: unknown key"),
        ("server: {metrics_on_api: 'yes'}", "server.metrics_on_api: must be true or false"),
        (
            "server: {metrics_on_api: true, metrics_port: 9200}",
            "server.metrics_port: not used when server.metrics_on_api is true",
        ),
        (
            "server: {metrics_on_api: true, metrics_host: 0.0.0.0}",
            "server.metrics_host: not used when server.metrics_on_api is true",
        ),
        (
            "server: {port: 9000, metrics_port: 9000}",
            "server.metrics_port: the API's port; for /metrics on the API listener set",
        ),
        (
            "providers:\n  - {name: a, url: http://a/x, key_env: A, key: s3cret}",
            "providers[0].key: secrets do not belong in the file",
        ),
        ("database: {dsn: 'postgresql://u:pw@h/db'}", "database.dsn: secrets do not belong"),
        ("providers:\n  - {name: a, url: http://a/x}", "providers[0].key_env: required"),
        (
            "providers:\n  - {name: a, url: http://a/x, key_env: 9x}",
            "providers[0].key_env: not an environment variable name",
        ),
        ("providers: {name: a}", "providers: must be a list"),
        (
            P + "services:\n  - {id: 1, name: n, category: c, provider: ghost, upstream_service: 1,"
            " rate: 1, min: 1, max: 2}",
            "services[0].provider: unknown provider 'ghost'",
        ),
        (
            P + "services:\n  - {id: 1, name: n, category: c, type: Magic, provider: p,"
            " upstream_service: 1, rate: 1, min: 1, max: 2}",
            "services[0].type: unknown value 'Magic'",
        ),
        (
            P + "services:\n  - {id: 1, name: n, category: c, provider: p, upstream_service: 1,"
            " rate: -1, min: 1, max: 2}",
            "services[0].rate: must be between 0",
        ),
        (
            P + "services:\n  - {id: 1, name: n, category: c, provider: p, upstream_service: 1,"
            " rate: .inf, min: 1, max: 2}",
            "services[0].rate: must be between 0",
        ),
        (
            P + "services:\n  - {id: 1, name: n, category: c, provider: p, upstream_service: 1,"
            " rate: 1, min: 9, max: 2}",
            "services[0].max: less than min (9)",
        ),
        ("api: {currency: dollars}", "api.currency: must be a 3-letter currency code"),
        (
            "database: {pool_min: 5, pool_max: 2}",
            "database.pool_min: greater than database.pool_max",
        ),
        ("- just\n- a list", "<top level>: must be a mapping"),
        ("server: [unclosed", "not valid YAML"),
        # YAML keeps the last of two equal keys: the first section's settings would vanish.
        ("api: {currency: EUR}\napi: {rate_limit_per_minute: 5}\n", "duplicate key 'api'"),
        ("services:\n  - {id: 1, id: 2}\n", "duplicate key 'id'"),
        # Under cost: never meant, and the catalog would only take the services off sale.
        ("pricing: {markup_percent: -10}", "pricing.markup_percent: must be between 0 and"),
        (
            "pricing: {categories: {'Tele*': {markup_percent: -1}}}",
            "pricing.categories.Tele*.markup_percent: must be between 0",
        ),
    ],
)
def test_a_wrong_file_is_refused_naming_the_key_path(text: str, expected: str) -> None:
    assert expected in problems_of(text)


def test_every_problem_is_reported_at_once() -> None:
    message = problems_of("server: {port: 0, host: ''}\napi: {rate_limit_per_minute: 0}")
    assert "server.port" in message
    assert "server.host" in message
    assert "api.rate_limit_per_minute" in message


def test_duplicate_service_ids_are_refused() -> None:
    text = (
        VALID + "  - {id: 7, name: B, category: IG, provider: sim, upstream_service: 3,"
        " rate: 1, min: 1, max: 2}\n"
    )
    assert "services: duplicate id 7" in problems_of(text)


def test_missing_provider_keys_are_listed_without_reading_secrets_from_the_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = config.parse(VALID)
    monkeypatch.delenv("SIM_KEY", raising=False)
    assert loaded.missing_secrets() == [
        "providers[0].key_env: environment variable SIM_KEY is not set"
    ]
    monkeypatch.setenv("SIM_KEY", "k")
    assert loaded.missing_secrets() == []
    assert loaded.providers[0].key() == "k"


def test_config_path_comes_from_flag_then_environment_then_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RESELLER_CONFIG", raising=False)
    assert config.resolve_path(None) is None
    (tmp_path / "config.yaml").write_text("{}")
    assert config.resolve_path(None) == Path("config.yaml")
    monkeypatch.setenv("RESELLER_CONFIG", "/etc/reseller.yaml")
    assert config.resolve_path(None) == Path("/etc/reseller.yaml")
    assert config.resolve_path("given.yaml") == Path("given.yaml")


def test_embedded_data_dir_prefers_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_file = config.parse(f"database: {{data_dir: {tmp_path / 'file'}}}").database
    monkeypatch.delenv("RESELLER_DATA_DIR", raising=False)
    assert from_file.embedded_dir() == tmp_path / "file"
    monkeypatch.setenv("RESELLER_DATA_DIR", str(tmp_path / "env"))
    assert from_file.embedded_dir() == tmp_path / "env"
