"""Limits per role in the settings: defaults for every role, partial overrides from CRITIC_ROLE_LIMITS."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import DEFAULT_ROLE_LIMITS, get_settings


def test_a_partial_setting_changes_only_what_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRITIC_ROLE_LIMITS", '{"viewer": {"max_samples": 2}, "teacher": {"max_jobs": 3}}')
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.limits_for("viewer").max_samples == 2
        assert settings.limits_for("viewer").max_steps == DEFAULT_ROLE_LIMITS["viewer"].max_steps
        assert settings.limits_for("teacher").max_jobs == 3
        assert settings.limits_for("admin") == DEFAULT_ROLE_LIMITS["admin"]
        assert settings.limits_for("someone-new") == settings.limits_for("viewer")  # the narrowest
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"visitor": {"max_samples": 2}}', "unknown role.*visitor.*the roles are viewer"),
        ('{"viewer": {"max_samples": 99}}', "max_samples"),
        ('{"viewer": {"modes": ["fast"]}}', "modes"),
        ('{"viewer": {"samples": 2}}', "samples"),
    ],
)
def test_a_bad_limit_is_refused_with_its_setting_named(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CRITIC_ROLE_LIMITS", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match=f"(?i)CRITIC_ROLE_LIMITS.*{message}"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_only_admins_pick_models_by_default() -> None:
    assert [role for role, limits in DEFAULT_ROLE_LIMITS.items() if limits.choose_model] == ["admin"]
