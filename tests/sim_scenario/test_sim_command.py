import json
import subprocess
import sys

import pytest

from arb.sim.faultplan import FaultPlanError, FaultStep, parse_fault
from arb.sim.world import SimStateError, load_credentials


def test_parse_fault():
    assert parse_fault("30:poly-freeze:10") == FaultStep(30.0, "poly-freeze", 10.0)
    assert parse_fault("5:kalshi-gap") == FaultStep(5.0, "kalshi-gap", 1.0)
    for bad, fragment in (("x:kalshi-gap", "numbers"), ("5:nope", "unknown fault 'nope'"),
                          ("5", "AT:NAME"), ("-1:kalshi-gap", ">= 0")):
        with pytest.raises(FaultPlanError, match=fragment):
            parse_fault(bad)


def test_missing_sim_state_is_a_clear_error(tmp_path):
    with pytest.raises(SimStateError, match="arb sim --state-dir"):
        load_credentials(tmp_path)
    (tmp_path / "credentials.json").write_text("{not json")
    with pytest.raises(SimStateError, match="not readable"):
        load_credentials(tmp_path)


def test_arb_sim_command_writes_credentials_and_truth(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "arb.cli", "sim", "--state-dir", str(tmp_path), "--seconds", "2",
         "--fault", "1:kalshi-gap"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Kalshi REST   http://127.0.0.1:" in result.stdout
    creds = load_credentials(tmp_path)
    assert creds.kalshi_rest.endswith("/trade-api/v2")
    assert (tmp_path / "kalshi-sim-key.pem").stat().st_mode & 0o077 == 0
    assert (tmp_path / "credentials.json").stat().st_mode & 0o077 == 0
    assert creds.poly_private_key not in result.stdout + result.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["pairs"] and truth["decoys"]
    bad = subprocess.run([sys.executable, "-m", "arb.cli", "sim", "--state-dir", str(tmp_path),
                          "--fault", "1:bogus"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown fault 'bogus'" in bad.stderr
