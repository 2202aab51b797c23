"""The store: round trip, first result wins, pandas, and clear errors for foreign/corrupt stores."""

import json
import sqlite3

import pytest

from numerics.cli import main
from numerics.sweep import Store, StoreError, make_cells, run_sweep
from numerics.sweep.cells import execute_cell
from numerics.sweep.demo import TOY_CELL as TOY
from numerics.sweep.demo import toy_configs
from numerics.sweep.store import DB_NAME, StoredCell


def _stored(spec, **config_override):
    run = execute_cell(TOY, spec.key, dict(spec.config, **config_override))
    return StoredCell.from_run(spec, run, "0.1.0")


def _specs(count=3):
    return make_cells(TOY, toy_configs(count), version="0.1.0")


def test_round_trip_and_reopen(tmp_path):
    specs = _specs()
    with Store(tmp_path / "s") as st:
        for s in specs:
            st.put(_stored(s))
        assert len(st) == 3 and st.counts() == {"ok": 3, "failed": 0}
    with Store(tmp_path / "s") as st:
        got = st.lookup([s.key for s in specs] + ["0" * 64])
    assert set(got) == {s.key for s in specs}
    assert got[specs[0].key].record["rho"] > 0
    assert st.meta["application"] == "unlearnstab-sweep-store"


def test_ok_is_never_replaced_and_failed_is(tmp_path):
    spec = _specs(1)[0]
    with Store(tmp_path) as st:
        st.put(_stored(spec, fail=True))
        assert not st.lookup([spec.key])[spec.key].ok
        st.put(_stored(spec))
        first = st.lookup([spec.key])[spec.key]
        assert first.ok
        st.put(_stored(spec, fail=True))
        assert st.lookup([spec.key])[spec.key] == first
        assert len(st) == 1


def test_pandas_reads_the_store(tmp_path):
    pd = pytest.importorskip("pandas")
    run_sweep(TOY, toy_configs(4) + [{"seed": 9, "fail": True}], tmp_path)
    con = sqlite3.connect(tmp_path / DB_NAME)
    raw = pd.read_sql("SELECT key, status, record FROM cells", con)
    con.close()
    assert len(raw) == 5 and sorted(raw["status"]) == ["failed"] + ["ok"] * 4
    with Store(tmp_path) as st:
        frame = st.to_dataframe()
    assert {"seed", "d", "rho", "stable", "cell_status", "cell_error", "cell_key"} <= set(frame)
    assert frame.loc[frame["cell_status"] == "ok", "rho"].notna().all()
    assert frame.loc[frame["cell_status"] == "failed", "cell_error"].str.contains("ValueError").all()


def test_a_file_is_not_a_store(tmp_path):
    f = tmp_path / "results.csv"
    f.write_text("a,b\n")
    with pytest.raises(StoreError, match="is a file"):
        Store(f)


def test_foreign_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not an unlearnstab sweep store.*notes.txt"):
        Store(tmp_path)
    assert not (tmp_path / DB_NAME).exists()


def test_foreign_sqlite_is_refused(tmp_path):
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.execute("CREATE TABLE cells (key TEXT PRIMARY KEY, record TEXT)")
    con.execute("INSERT INTO cells VALUES ('k', '{}')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not an unlearnstab sweep store"):
        Store(tmp_path)


def test_other_application_and_newer_schema_are_refused(tmp_path):
    Store(tmp_path).close()
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    con.commit()
    with pytest.raises(StoreError, match="schema 99"):
        Store(tmp_path)
    con.execute("UPDATE meta SET value = 'someone-else' WHERE name = 'application'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="someone-else"):
        Store(tmp_path)


def test_garbage_database_is_refused(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store(tmp_path)


def test_truncated_database_is_refused(tmp_path):
    run_sweep(TOY, toy_configs(200), tmp_path)
    db = tmp_path / DB_NAME
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError):
        run_sweep(TOY, toy_configs(200), tmp_path)


def test_tampered_record_is_never_reused(tmp_path):
    run_sweep(TOY, toy_configs(3), tmp_path)
    con = sqlite3.connect(tmp_path / DB_NAME)
    key, record = con.execute("SELECT key, record FROM cells LIMIT 1").fetchone()
    rec = json.loads(record)
    rec["rho"] = 123.0
    con.execute("UPDATE cells SET record = ? WHERE key = ?", (json.dumps(rec), key))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="digest mismatch"):
        run_sweep(TOY, toy_configs(3), tmp_path)


def test_row_moved_to_another_key_is_never_reused(tmp_path):
    """A row whose configuration does not hash to its key (digest recomputed) is refused."""
    from numerics.sweep.store import _digest

    run_sweep(TOY, toy_configs(2), tmp_path)
    con = sqlite3.connect(tmp_path / DB_NAME)
    (k0, r0), (k1, _) = con.execute("SELECT key, record FROM cells ORDER BY rowid").fetchall()
    con.execute("DELETE FROM cells WHERE key = ?", (k1,))
    con.execute("UPDATE cells SET key = ?, digest = ? WHERE key = ?",
                (k1, _digest(k1, "ok", r0), k0))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="does not match its key"):
        run_sweep(TOY, toy_configs(2), tmp_path)


def test_cli_reports_a_foreign_store_in_one_line(tmp_path, capsys):
    (tmp_path / "data.bin").write_bytes(b"\x00")
    rc = main(["frontier", "--n", "4", "--sigma", "1:4", "--batch", "1:4", "--eta", "0.5",
               "--store", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "not an unlearnstab sweep store" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
