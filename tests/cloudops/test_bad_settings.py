"""Settings that are nan, inf, negative or zero are refused before anything opens, naming the setting and where
it came from; schemas say exactly what is required (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.api.schemas import STR, obj
from console.config import load_settings
from console.errors import ConfigError
from gateway.settings import GatewaySettings
from router.config import load_config
from router.errors import ConfigurationError


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SHADOW_TIMEOUT_S", "nan"),
        ("SHADOW_TIMEOUT_S", "inf"),
        ("SHADOW_TIMEOUT_S", "-1"),
        ("SHADOW_MAX_CONCURRENCY", "0"),
        ("SHADOW_MAX_CONCURRENCY", "-3"),
        ("LEGACY_POLL_INTERVAL_S", "0"),
        ("FLAG_POLL_INTERVAL_S", "-inf"),
        ("SHADOW_DEFAULT_SAMPLE_PERCENT", "101"),
        ("RETRY_WINDOW_SECONDS", "0"),
    ],
)
def test_router_refuses_a_bad_number_from_the_environment(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(environ={f"CLOUDOPS_{name}": raw})
    assert name.lower() in caught.value.message and f"$CLOUDOPS_{name}" in caught.value.message


def test_router_refuses_a_bad_number_from_a_file_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "router.toml"
    path.write_text("shadow_timeout_s = nan\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})
    assert "shadow_timeout_s" in caught.value.message and str(path) in caught.value.message


def test_router_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_bytes(b"\xff\xfe legacy_url: x")
    with pytest.raises(ConfigurationError, match="not UTF-8"):
        load_config(path, environ={})


def test_good_numbers_still_load() -> None:
    config = load_config(environ={"CLOUDOPS_SHADOW_TIMEOUT_S": "2.5", "CLOUDOPS_SHADOW_DEFAULT_SAMPLE_PERCENT": "0"})
    assert (config.shadow_timeout_s, config.shadow_default_sample_percent) == (2.5, 0.0)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-1"])
def test_console_refuses_a_bad_number(raw: str) -> None:
    with pytest.raises(ConfigError, match="dashboard_window_hours"):
        load_settings(environ={"CONSOLE_DASHBOARD_WINDOW_HOURS": raw})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.0])
def test_gateway_refuses_a_bad_number(value: float) -> None:
    with pytest.raises(ConfigurationError, match="lease_s"):
        GatewaySettings(cloud="http://127.0.0.1:9", lease_s=value)


def test_an_empty_required_list_means_nothing_is_required() -> None:
    assert obj({"a": STR, "b": STR}, required=[])["required"] == []
    assert obj({"a": STR, "b": STR})["required"] == ["a", "b"]
    assert obj({"a": STR, "b": STR}, required=["b"])["required"] == ["b"]
