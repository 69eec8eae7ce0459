import os
import subprocess
from pathlib import Path

import pytest

from arb.config import (
    ConfigError,
    Secret,
    known_sports,
    load_settings,
    read_secret_env,
    read_secret_file,
)

SPORTS_REQUIRED = {"nba", "nfl", "cfb", "nhl", "mlb", "epl", "laliga", "ucl"}


def test_defaults_match_the_paper_profile_of_the_operator():
    s = load_settings()
    assert s.edge.min_edge_bps == 50
    assert s.edge.max_book_age_s == 2.0
    assert s.edge.max_slippage_bps == 200
    assert (s.risk.trade_min_usd, s.risk.trade_max_usd) == (50_000_000, 100_000_000)
    assert s.risk.max_total_exposure == 500_000_000
    assert s.risk.max_event_exposure == 200_000_000
    assert s.risk.trades_per_hour == 20
    assert s.risk.max_consecutive_losses == 5
    assert s.risk.max_daily_loss == 200_000_000


def test_every_sport_loads_in_both_profiles():
    assert SPORTS_REQUIRED <= set(known_sports())
    for sport in known_sports():
        paper = load_settings(sport=sport, profile="paper")
        live = load_settings(sport=sport, profile="live")
        assert paper.bot.leagues == (sport,)
        assert live.risk.trade_max_usd <= paper.risk.trade_max_usd


def test_launch_scripts_select_their_sport():
    scripts = Path(__file__).resolve().parents[1] / "scripts"
    for sport in SPORTS_REQUIRED:
        text = (scripts / f"run-{sport}").read_text()
        assert f"--sport {sport}" in text
        assert os.access(scripts / f"run-{sport}", os.X_OK)


def _write(tmp_path, text):
    path = tmp_path / "bot.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[risk]\nmax_daily_los = "10"\n', "risk.max_daily_los: unknown key"),
        ('[risk]\nmax_daily_loss = 10.5\n', "floats are not exact"),
        ('[risk]\nmax_daily_loss = "-5"\n', "non-negative"),
        ('[risk]\ntrades_per_hour = "many"\n', "expected a whole number"),
        ('[risk]\ntrades_per_hour = -1\n', "non-negative"),
        ('[edge]\nmin_confidence = "sure"\n', "expected one of low, medium, high"),
        ('[bogus]\nx = 1\n', "unknown section [bogus]"),
        ('[risk]\nenabled = "yes"\n', "expected true or false"),
        ('[risk]\ntrade_min_usd = "200"\n', "must not exceed risk.trade_max_usd"),
        ('[risk\n', "not valid TOML"),
        ('[profiles.staging]\n', "[profiles] may only hold"),
    ],
)
def test_bad_values_name_file_key_and_expectation(tmp_path, text, fragment):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(config=path)
    assert fragment in str(err.value)
    if "TOML" not in fragment and "must not exceed" not in fragment:
        assert str(path) in str(err.value)


def test_profile_overrides_apply(tmp_path):
    path = _write(tmp_path, '[risk]\nmax_daily_loss = "150"\n'
                            '[profiles.live]\nrisk.max_daily_loss = "25.50"\n')
    assert load_settings(config=path).risk.max_daily_loss == 150_000_000
    assert load_settings(config=path, profile="live").risk.max_daily_loss == 25_500_000


def test_missing_file_and_unknown_sport():
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(config=Path("/nonexistent/x.toml"))
    with pytest.raises(ConfigError, match="unknown sport 'curling'"):
        load_settings(sport="curling")


def test_secret_never_shows_its_value(monkeypatch):
    monkeypatch.setenv("ARB_TEST_SECRET", "hunter2-very-secret")
    secret = read_secret_env("ARB_TEST_SECRET")
    assert secret.reveal() == "hunter2-very-secret"
    for text in (repr(secret), str(secret), f"{secret}", repr([secret])):
        assert "hunter2" not in text
    assert read_secret_env("ARB_TEST_MISSING", required=False) is None
    with pytest.raises(ConfigError, match="ARB_TEST_MISSING is not set"):
        read_secret_env("ARB_TEST_MISSING")


def test_key_file_checks(tmp_path, monkeypatch):
    key = tmp_path / "k.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    key.chmod(0o644)
    monkeypatch.setenv("ARB_TEST_KEY_FILE", str(key))
    warnings: list[str] = []
    secret = read_secret_file("ARB_TEST_KEY_FILE", warn=warnings)
    assert isinstance(secret, Secret) and "BEGIN" in secret.reveal()
    assert warnings and "readable by other users" in warnings[0]
    key.chmod(0o600)
    warnings.clear()
    read_secret_file("ARB_TEST_KEY_FILE", warn=warnings)
    assert warnings == []
    monkeypatch.setenv("ARB_TEST_KEY_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="does not exist"):
        read_secret_file("ARB_TEST_KEY_FILE")


def test_key_file_tracked_by_git_is_refused(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    key = tmp_path / "leaked.pem"
    key.write_text("secret")
    subprocess.run(["git", "-C", str(tmp_path), "add", "leaked.pem"], check=True)
    monkeypatch.setenv("ARB_TEST_KEY_FILE", str(key))
    with pytest.raises(ConfigError, match="tracked by git"):
        read_secret_file("ARB_TEST_KEY_FILE")


def test_repository_ignores_key_files():
    root = Path(__file__).resolve().parents[1]
    for name in ("kalshi.pem", "poly.key", ".env", ".env.live", "secrets/x"):
        result = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", name])
        assert result.returncode == 0, f"{name} is not ignored by git"
