"""Router configuration layers: defaults, file, environment; clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import RouterConfig, load_config
from router.errors import ConfigurationError
from router.routing import FallbackPolicy


def test_defaults_when_nothing_is_set() -> None:
    assert load_config(environ={}) == RouterConfig()


def test_a_file_then_the_environment_override_the_defaults(tmp_path: Path) -> None:
    config_file = tmp_path / "router.yaml"
    config_file.write_text("router:\n  legacy_url: http://cd:7002\n  shadow_timeout_s: 30\n  fallback: fail\n")
    env = {"CLOUDOPS_SHADOW_TIMEOUT_S": "12.5", "CLOUDOPS_TEMPORAL_TLS": "true", "CLOUDOPS_REDIS_URL": ""}
    config = load_config(config_file, env)
    assert config.legacy_url == "http://cd:7002"
    assert config.shadow_timeout_s == 12.5
    assert config.fallback is FallbackPolicy.FAIL
    assert config.temporal_tls is True
    assert config.redis_url is None


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("legacy_ulr: x\n", ".yaml", "unknown setting 'legacy_ulr'"),
        ("fallback: sideways\n", ".yaml", "expected legacy, fail"),
        ('{"shadow_max_concurrency": "many"}', ".json", "'shadow_max_concurrency'"),
        ("[router\n", ".toml", "not valid .toml"),
        ("- a\n- b\n", ".yaml", "must hold a mapping"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    config_file = tmp_path / f"router{suffix}"
    config_file.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_config(config_file, {})


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"\$CLOUDOPS_RETRY_WINDOW_SECONDS"):
        load_config(None, {"CLOUDOPS_RETRY_WINDOW_SECONDS": "2h"})


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(tmp_path / "absent.yaml", {})


def test_the_api_key_is_redacted_in_json() -> None:
    assert load_config(None, {"CLOUDOPS_TEMPORAL_API_KEY": "sekrit"}).to_json()["temporal_api_key"] == "[redacted]"


def test_the_durable_heartbeat_timeout_reaches_the_durable_runner(tmp_path: Path) -> None:
    from router.contract import Path as RoutePath
    from router.factory import build_routing_runner

    env = {"CLOUDOPS_DURABLE_HEARTBEAT_TIMEOUT_SECONDS": "5", "CLOUDOPS_DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}
    runner = build_routing_runner(load_config(environ=env))
    try:
        assert runner._runners[RoutePath.DURABLE]._heartbeat_timeout == 5  # type: ignore[attr-defined]
    finally:
        runner.close()


def test_a_durable_heartbeat_timeout_below_one_second_is_refused(tmp_path: Path) -> None:
    from router.factory import build_routing_runner

    config = RouterConfig(database_url=f"sqlite:///{tmp_path}/r.db", durable_heartbeat_timeout_seconds=0)
    with pytest.raises(ConfigurationError, match="durable_heartbeat_timeout_seconds is 0: it must be at least 1"):
        build_routing_runner(config)
