"""``verify`` runs its claims as sweep cells: stored, reused, identical."""

import json

from numerics.cli import main
from numerics.verify.claims.cell import claim_cell


def test_verify_reuses_stored_claims(tmp_path, capsys):
    args = ["verify", "--claim", "C3", "C5", "--quick", "--store", str(tmp_path)]
    assert main([*args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 passed, 0 failed (scale=quick, 2 reused from" in out
    assert main([*args, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == first  # seconds included: they are the stored compute times


def test_claim_cell_record_has_no_wall_time():
    rec = claim_cell({"claim": "C3", "scale": "quick", "seed": 0})
    assert rec["passed"] and "seconds" not in rec and rec["claim_id"] == "C3"
