"""The persistent result store: one SQLite file (WAL mode) in a store directory.

Layout of a store directory ``DIR``::

    DIR/cells.sqlite      the database (plus SQLite's own -wal and -shm files while open)
    DIR/*.png, *.json     what commands write next to it (heatmaps, summaries)

Tables of ``cells.sqlite``:

``meta(name, value)``
    ``application = unlearnstab-sweep-store``, ``schema_version``, ``created_by`` (package
    version) and ``created_at``: a database without them is not a store and is never used.
``cells``
    one row per finished cell: ``key`` (primary key, SHA-256 of function, configuration, seed and
    version), ``fn``, ``config`` (canonical JSON), ``seed``, ``version``, ``status`` (``ok`` or
    ``failed``), ``record`` (canonical JSON, ``ok`` only), ``error`` (``failed`` only),
    ``digest`` (SHA-256 of key, status and payload), ``seconds``, ``worker``, ``finished_at``.
``claims``
    one row per cell a run is computing now: ``key``, ``owner`` (the run), ``pid``, ``host``,
    ``claimed_at``.  Concurrent runs on one store share the work: each claims a few cells at a
    time (:meth:`Store.claim`), computes and stores them, then drops the claims; a cell claimed
    by another live run is waited for, not computed, and a claim whose process is gone (or, from
    another host, older than :data:`CLAIM_TTL`) is taken over.

Each cell is written by the parent process in its own transaction, so a killed sweep loses only
the cells still in flight.  Every reused row is checked against its key and digest first.  The
file reads with the standard library or pandas (``pandas.read_sql("SELECT * FROM cells", con)``);
:meth:`Store.to_dataframe` expands the records into columns.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numerics import __version__
from numerics.core.inputs import InputError
from numerics.sweep.cells import CellRun, CellSpec, cell_key

__all__ = ["StoreError", "StoredCell", "MemoryStore", "Store", "open_store", "DB_NAME",
           "APPLICATION", "SCHEMA_VERSION"]

#: File name of the database inside a store directory.
DB_NAME = "cells.sqlite"
#: Value of ``meta.application`` that marks a database as a sweep store.
APPLICATION = "unlearnstab-sweep-store"
#: Layout version of the tables; a store with a newer one is refused.
SCHEMA_VERSION = 1

_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE_FILES = (DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal")
_COLUMNS = ("key", "fn", "config", "seed", "version", "status", "record", "error", "digest",
            "seconds", "worker", "finished_at")

_SCHEMA = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cells (
    key TEXT PRIMARY KEY,
    fn TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    record TEXT,
    error TEXT,
    digest TEXT NOT NULL,
    seconds REAL,
    worker TEXT,
    finished_at TEXT
);
INSERT INTO meta VALUES ('application', '{APPLICATION}');
INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""


class StoreError(InputError):
    """A store directory that is foreign, corrupted or unusable (reported as one line)."""


def _digest(key: str, status: str, payload: str | None) -> str:
    return hashlib.sha256(f"{key}\n{status}\n{payload or ''}".encode()).hexdigest()


@dataclass(frozen=True)
class StoredCell:
    """A finished cell as kept in a store.

    Attributes
    ----------
    key, fn, config_json, version:
        Identity of the cell (see :mod:`numerics.sweep.cells`).
    ok:
        ``True`` for a record, ``False`` for a failure.
    record_json, error:
        The record's canonical JSON, or the error text.
    seconds, worker:
        Compute time and the ``host:pid`` that ran it.
    """

    key: str
    fn: str
    config_json: str
    version: str
    ok: bool
    record_json: str | None
    error: str | None
    seconds: float
    worker: str

    @property
    def record(self) -> dict[str, Any] | None:
        """The decoded record (``None`` for a failed cell)."""
        return None if self.record_json is None else json.loads(self.record_json)

    @classmethod
    def from_run(cls, spec: CellSpec, run: CellRun, version: str) -> StoredCell:
        """The stored form of a fresh run of ``spec``."""
        return cls(spec.key, spec.fn, spec.config_json, version, run.ok, run.record_json,
                   run.error, run.seconds, run.worker)


#: Claims of cells being computed (created in any store that lacks it; not part of the schema
#: version: an older unlearnstab ignores it).
_CLAIMS = ("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
           "pid INTEGER NOT NULL, host TEXT NOT NULL, claimed_at REAL NOT NULL)")
#: Seconds after which a claim from another host is taken over (a claim from this host is taken
#: over as soon as its process is gone).
CLAIM_TTL = 6 * 3600.0


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError):
        return False
    return True


def claim_alive(pid: int, host: str, claimed_at: float, now: float,
                ttl: float = CLAIM_TTL) -> bool:
    """Whether a claim still holds: its process lives (this host) or it is younger than ``ttl``."""
    if host == socket.gethostname():
        return _process_alive(pid)
    return now - float(claimed_at) < ttl


@dataclass(frozen=True)
class Claim:
    """What :meth:`Store.claim` got: keys now ours, and keys another live run is computing."""

    mine: list[str]
    others: list[str]


class MemoryStore:
    """A store that keeps cells in a dictionary (the default when no directory is given)."""

    location = "memory"

    def __init__(self) -> None:
        self._cells: dict[str, StoredCell] = {}

    def lookup(self, keys: Iterable[str]) -> dict[str, StoredCell]:
        """The stored cells among ``keys``."""
        return {k: self._cells[k] for k in keys if k in self._cells}

    def put(self, cell: StoredCell) -> None:
        """Keep ``cell``; an ``ok`` cell is never replaced."""
        old = self._cells.get(cell.key)
        if old is None or not old.ok:
            self._cells[cell.key] = cell

    def claim(self, keys: Iterable[str], owner: str,  # noqa: ARG002 (Store protocol)
              limit: int | None = None) -> Claim:
        """Every key (a memory store is never shared)."""
        keys = list(keys)
        return Claim(keys if limit is None else keys[:limit], [])

    def release(self, keys: Iterable[str], owner: str) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self) -> Iterator[StoredCell]:
        return iter(list(self._cells.values()))

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store:
    """A persistent store in directory ``path`` (created when missing or empty).

    Parameters
    ----------
    path:
        The store directory.
    create:
        Create the store when ``path`` does not exist or is an empty directory (default); with
        ``False`` a missing store is an error.
    timeout:
        Seconds to wait for another process's write lock.

    Raises
    ------
    StoreError
        ``path`` is a file, a directory of other files, a database of another application,
        a store of a newer schema, or a damaged database.
    """

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.db_path = self.path / DB_NAME
        self.location = str(self.path)
        self._check_directory(create)
        fresh = not self.db_path.exists()
        if not fresh:
            self._check_header()
        try:
            self._con = sqlite3.connect(self.db_path, timeout=timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise StoreError(f"{self.path} holds a damaged store database ({DB_NAME}): {exc}"
                             ) from None
        except StoreError:
            self._con.close()
            raise

    # ---------------------------------------------------------------- opening and checking
    def _check_directory(self, create: bool) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise StoreError(f"store {p} is a file, not a store directory")
        if not p.exists():
            if not create:
                raise StoreError(f"store {p} does not exist")
            try:
                p.mkdir(parents=True, exist_ok=True)  # another run may create it at the same moment
            except OSError as exc:
                raise StoreError(f"cannot create the store directory {p}: {exc}") from None
            return
        if not self.db_path.exists():
            # the database itself may appear meanwhile: another run is creating this store
            others = sorted(q.name for q in p.iterdir()
                            if q.name not in _SIDE_FILES and q.name != DB_NAME)
            if others:
                shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
                raise StoreError(f"{p} is not an unlearnstab sweep store (no {DB_NAME}; it holds "
                                 f"{shown}); give a new or empty directory")
            if not create:
                raise StoreError(f"store {p} does not exist")

    def _check_header(self) -> None:
        try:
            with open(self.db_path, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"cannot read the store {self.db_path}: {exc}") from None
        if head and head != _SQLITE_MAGIC:
            raise StoreError(f"{self.db_path} is corrupted or foreign: not an SQLite database")

    def _prepare(self) -> None:
        con = self._con
        con.execute("PRAGMA busy_timeout = 30000")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            tables = {r[0] for r in
                      con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:  # nobody initialised it meanwhile
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                con.execute("INSERT INTO meta VALUES ('created_by', ?)", (__version__,))
                con.execute("INSERT INTO meta VALUES ('created_at', ?)", (_now(),))
            con.execute("COMMIT")
        self._check_meta()
        con.execute(_CLAIMS)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")  # durable against a killed process
        check = con.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{self.db_path} is corrupted (integrity check: {check})")
        cols = [r[1] for r in con.execute("PRAGMA table_info(cells)")]
        if tuple(cols) != _COLUMNS:
            raise StoreError(f"{self.db_path} is corrupted or foreign: table 'cells' has "
                             f"columns {cols}")

    def _check_meta(self) -> None:
        con = self._con
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables or "cells" not in tables:
            raise StoreError(f"{self.db_path} is not an unlearnstab sweep store (tables: "
                             f"{', '.join(sorted(tables)) or 'none'})")
        meta = dict(con.execute("SELECT name, value FROM meta").fetchall())
        if meta.get("application") != APPLICATION:
            raise StoreError(f"{self.db_path} is not an unlearnstab sweep store "
                             f"(application: {meta.get('application')!r})")
        try:
            schema = int(meta.get("schema_version", ""))
        except ValueError:
            raise StoreError(f"{self.db_path} is corrupted: schema version "
                             f"{meta.get('schema_version')!r}") from None
        if schema != SCHEMA_VERSION:
            raise StoreError(f"{self.db_path} has store schema {schema}; this unlearnstab "
                             f"({__version__}) reads schema {SCHEMA_VERSION}")
        self.meta = meta

    # ---------------------------------------------------------------- reading and writing
    def _row(self, row: tuple) -> StoredCell:
        key, fn, config, seed, version, status, record, error, digest, seconds, worker = row[:11]
        payload = record if status == "ok" else error
        if digest != _digest(key, status, payload):
            raise StoreError(f"store {self.path}: cell {key[:12]} is corrupted (digest mismatch); "
                             "refusing to reuse it")
        try:
            cfg = json.loads(config)
            if record is not None:
                json.loads(record)
        except (TypeError, ValueError):
            raise StoreError(f"store {self.path}: cell {key[:12]} is corrupted (bad JSON)"
                             ) from None
        if not isinstance(cfg, dict) or cell_key(fn, cfg, version) != key:
            raise StoreError(f"store {self.path}: cell {key[:12]} does not match its key "
                             "(configuration altered); refusing to reuse it")
        if (status == "ok") == (record is None):
            raise StoreError(f"store {self.path}: cell {key[:12]} is corrupted (status {status})")
        return StoredCell(key, fn, config, version, status == "ok", record, error,
                          float(seconds or 0.0), worker or "")

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        try:
            return self._con.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store {self.path} cannot be read: {exc}") from None

    def lookup(self, keys: Iterable[str]) -> dict[str, StoredCell]:
        """The stored cells among ``keys``, each checked against its key and digest."""
        keys = list(keys)
        out: dict[str, StoredCell] = {}
        cols = ", ".join(_COLUMNS)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT {cols} FROM cells WHERE key IN ({marks})", chunk):
                cell = self._row(row)
                out[cell.key] = cell
        return out

    def put(self, cell: StoredCell) -> None:
        """Write ``cell`` in its own transaction; an ``ok`` row is never replaced."""
        status = "ok" if cell.ok else "failed"
        payload = cell.record_json if cell.ok else cell.error
        cfg = json.loads(cell.config_json)
        row = (cell.key, cell.fn, cell.config_json, int(cfg.get("seed", 0)), cell.version, status,
               cell.record_json if cell.ok else None, None if cell.ok else cell.error,
               _digest(cell.key, status, payload), cell.seconds, cell.worker, _now())
        marks = ",".join("?" * len(_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
        try:
            self._con.execute(
                f"INSERT INTO cells ({', '.join(_COLUMNS)}) VALUES ({marks}) "
                f"ON CONFLICT(key) DO UPDATE SET {updates} WHERE cells.status != 'ok'", row)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot write to the store {self.path}: {exc}") from None

    def claim(self, keys: Iterable[str], owner: str, limit: int | None = None) -> Claim:
        """Claim up to ``limit`` of ``keys`` for the run ``owner``, in one write transaction.

        A key is claimable when no claim holds it, when ``owner`` holds it, or when its claim is
        dead (:func:`claim_alive`: its process is gone, or it is older than :data:`CLAIM_TTL`
        from another host); a dead claim is taken over.  Keys held by other live runs are
        returned as ``others``: the caller waits for their cells instead of computing them.
        """
        keys = list(keys)
        now = time.time()
        me = (owner, os.getpid(), socket.gethostname(), now)
        try:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                held: dict[str, tuple] = {}
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    for row in self._con.execute(
                            f"SELECT key, owner, pid, host, claimed_at FROM claims "
                            f"WHERE key IN ({marks})", chunk):
                        held[row[0]] = row[1:]
                others = [k for k in keys if k in held and held[k][0] != owner
                          and claim_alive(held[k][1], held[k][2], held[k][3], now)]
                taken = set(others)
                for i in range(0, len(keys), 500):  # finished since the caller looked
                    chunk = keys[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    taken.update(r[0] for r in self._con.execute(
                        f"SELECT key FROM cells WHERE status = 'ok' AND key IN ({marks})", chunk))
                mine = [k for k in keys if k not in taken]
                if limit is not None:
                    mine = mine[:limit]
                self._con.executemany(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                    [(k, *me) for k in mine])
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot claim cells in the store {self.path}: {exc}") from None
        return Claim(mine, others)

    def release(self, keys: Iterable[str], owner: str) -> None:
        """Drop the claims of ``owner`` on ``keys`` (after their cells are stored)."""
        keys = list(keys)
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                self._con.execute(f"DELETE FROM claims WHERE owner = ? AND key IN ({marks})",
                                  [owner, *chunk])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot release claims in the store {self.path}: {exc}") from None

    def counts(self) -> dict[str, int]:
        """Number of stored cells by status."""
        rows = self._query("SELECT status, COUNT(*) FROM cells GROUP BY status")
        return {"ok": 0, "failed": 0, **dict(rows)}

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM cells")[0][0])

    def __iter__(self) -> Iterator[StoredCell]:
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM cells ORDER BY rowid")
        return iter([self._row(r) for r in rows])

    def to_dataframe(self, expand: bool = True):
        """The cells as a pandas DataFrame (pandas is imported here, on first use).

        With ``expand`` the record fields (the configuration for failed cells) become columns,
        followed by ``cell_status``, ``cell_error``, ``cell_seconds``, ``cell_worker``,
        ``cell_version``, ``cell_fn`` and ``cell_key``; otherwise the raw table is returned.
        """
        try:
            import pandas as pd
        except ImportError:
            raise InputError("Store.to_dataframe needs pandas: pip install pandas") from None
        raw = pd.read_sql_query("SELECT * FROM cells ORDER BY rowid", self._con)
        if not expand:
            return raw
        data = [json.loads(r if s == "ok" else c)
                for r, s, c in zip(raw["record"], raw["status"], raw["config"], strict=True)]
        frame = pd.DataFrame.from_records(data) if data else pd.DataFrame()
        for col in ("status", "error", "seconds", "worker", "version", "fn", "key"):
            frame[f"cell_{col}"] = raw[col].to_numpy() if len(raw) else []
        return frame

    def close(self) -> None:
        """Close the connection (committed cells are already on disk)."""
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def open_store(path: str | Path | None) -> Store | MemoryStore:
    """A :class:`Store` in directory ``path``, or a :class:`MemoryStore` when ``path`` is None."""
    return MemoryStore() if path is None else Store(path)
