"""The PostgreSQL target: connecting, the staging schema, and the switch-over.

A run loads into a fresh staging schema and moves the finished tables into the target
schema in one transaction at the end, so a failed or interrupted run leaves the target
schema exactly as it was.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from transfer.errors import ConflictError, Interrupted, TargetError, TransferError, UsageError
from transfer.settings import (
    BACKUP_PREFIX,
    LOCK_TIMEOUT,
    STAGING_PREFIX,
    STATEMENT_TIMEOUT,
)

Conn = psycopg.Connection[Any]  # the one alias of a PostgreSQL connection

# -- the DSN: where it comes from, how it is shown ------------------------------------
# libpq's environment variables that name a target on their own (a password alone does not)
PG_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")
_SECRETS: set[str] = set()  # passwords of the DSNs resolved in this process (see redact)


def resolve_dsn(given: str | None) -> str:
    """The target: ``--to``, else ``DATABASE_URL``, else libpq's ``PG*`` variables (an empty
    conninfo, which libpq completes from them), so no password needs a command line."""
    if given is None:
        url = os.environ.get("DATABASE_URL", "").strip()
        if url:
            # (a SQLAlchemy URL names its driver: postgresql+psycopg://)
            given = re.sub(r"^(postgres(?:ql)?)\+\w+://", r"\1://", url)
        elif any(os.environ.get(v) for v in PG_TARGET_VARIABLES):
            given = ""
        else:
            raise UsageError("no target: give --to postgresql://user@host/db, or set "
                             "DATABASE_URL or the PG* variables (PGHOST, PGDATABASE, ...).")
    check_dsn(given)
    return given


def check_dsn(dsn: str) -> dict[str, str]:
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except psycopg.ProgrammingError as e:
        raise TargetError(f"the DSN {redact(dsn)!r} is not valid ({redact(str(e))}); write "
                          "postgresql://user@host:port/dbname or 'host=... dbname=...'.") from None
    password = params.get("password")
    if password:
        _SECRETS.add(password)
    return params


def show(dsn: str) -> str:
    """``dsn`` without its password, as a pasteable conninfo (the ``PG*`` variables' target
    when it is empty)."""
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if k != "password"}
    except psycopg.ProgrammingError:
        return redact(dsn)
    if not params:
        return "the PG* environment (" + " ".join(
            f"{v}={os.environ[v]}" for v in PG_TARGET_VARIABLES if os.environ.get(v)) + ")"
    return make_conninfo("", **params)


_URI_PASSWORD = re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/@\s]*:)[^@\s]*@")
_KEY_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every password removed: those of the DSNs this process resolved
    (as written, URI-encoded or conninfo-escaped), and any URI or ``password=`` form."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if len(secret) < 4:
            continue  # (too short to find without garbling the text; the patterns cover it)
        for form in {secret, quote(secret, safe=""), secret.replace("\\", "\\\\")
                     .replace("'", "\\'")}:
            text = text.replace(form, "****")
    text = _URI_PASSWORD.sub(r"\1****@", text)
    return _KEY_PASSWORD.sub(r"\1****", text)


# -- sessions: one door ----------------------------------------------------------------
# Called with every statement a session sends (tests and SQLITE2PG_TRACE watch them).
tracer: Callable[[str], None] | None = None
# Set when this process asks the server to cancel (Ctrl-C): a cancellation it did not ask
# for is a timeout or another session's doing.
cancel_requested = threading.Event()


class _Cursor(psycopg.Cursor[Any]):
    """Every statement through the extended protocol, which takes one statement only (the
    simple protocol would run several separated by semicolons), and through ``tracer``."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> _Cursor:
        if tracer is not None:
            tracer(query.as_string(self) if isinstance(query, sql.Composable) else
                   query.decode() if isinstance(query, bytes) else str(query))
        if params is None and binary is None:
            binary = True  # (no parameters: the binary result format forces the protocol)
        super().execute(query, params, prepare=prepare, binary=binary)
        return self


_DURATION = re.compile(r"\d+(?:ms|s|min|h)?")
timeouts = {"lock_timeout": LOCK_TIMEOUT, "statement_timeout": STATEMENT_TIMEOUT}


def set_timeout(name: str, value: str) -> None:
    """Set a session timeout (``lock_timeout``, ``statement_timeout``) for the sessions
    opened from now on: a duration such as 0, 500ms, 30s, 5min or 1h."""
    if not _DURATION.fullmatch(value.strip()):
        raise UsageError(f"{name.replace('_', '-')} {value!r} is not a duration; write e.g. "
                         "0 (none), 500ms, 30s, 5min or 1h.")
    timeouts[name] = value.strip()


def session_options(params: dict[str, str]) -> str:
    """libpq ``options`` of every session: the user's (the DSN's, else ``PGOPTIONS``), then
    the settings a migration must not inherit from the role or the database."""
    for name, value in timeouts.items():
        set_timeout(name, value)  # (validated: they are written into the options string)
    own = (f"-c standard_conforming_strings=on "
           f"-c statement_timeout={timeouts['statement_timeout']} "
           f"-c idle_in_transaction_session_timeout=0 "
           f"-c lock_timeout={timeouts['lock_timeout']}")
    theirs = params.get("options", os.environ.get("PGOPTIONS", "")).strip()
    return f"{theirs} {own}".strip()


def _session_params(dsn: str) -> dict[str, str]:
    params = check_dsn(dsn)
    params["options"] = session_options(params)
    params.setdefault("application_name", "sqlite2pg")
    return params


def connect(dsn: str, autocommit: bool = False) -> Conn:
    params = _session_params(dsn)
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, options=params["options"],
                               application_name=params["application_name"])
    except psycopg.Error as e:
        raise describe(e, dsn) from None
    conn.cursor_factory = _Cursor
    return conn


def adbc_uri(dsn: str) -> str:
    """ADBC's PostgreSQL driver takes a libpq connection string too (keywords form), with
    the same session settings."""
    return make_conninfo("", **_session_params(dsn))


# -- errors, by SQLSTATE -----------------------------------------------------------------
class ServerTimeout(TargetError):
    """A statement or lock timeout: the run's work so far is kept; resume continues."""


class ConnectionLost(Interrupted):
    """The server went away (restart, network): the run's work so far is kept."""


def sqlstate(e: BaseException) -> str | None:
    """The SQLSTATE of a psycopg or ADBC error, if the server sent one."""
    code = getattr(e, "sqlstate", None)
    return str(code) if code else None


def describe(e: BaseException, dsn: str, doing: str = "") -> TransferError:
    """One sentence for a server error, chosen by its SQLSTATE (class and condition)."""
    text = str(e).strip()
    msg = redact(text.splitlines()[0] if text else type(e).__name__)
    where = show(dsn)
    at = f" while {doing}" if doing else ""
    code = sqlstate(e) or ""
    resume = "continue with 'sqlite2pg run ... --resume'"
    if code == "57014" and not cancel_requested.is_set():
        return ServerTimeout(f"PostgreSQL cancelled a statement{at} ({msg}): a statement_timeout "
                             "or another session's pg_cancel_backend(); set "
                             "SQLITE2PG_STATEMENT_TIMEOUT (0 = none, the default) or stop "
                             f"whatever cancels it, then {resume}.")
    if code == "55P03":
        return ServerTimeout(f"waited longer than lock_timeout ({timeouts['lock_timeout']}) "
                             f"for a lock{at} "
                             f"({msg}): another session holds it; raise --lock-timeout (or "
                             f"SQLITE2PG_LOCK_TIMEOUT, 0 = wait) or end that session, then "
                             f"{resume}.")
    if code.startswith("08") or code in ("57P01", "57P02", "57P03"):
        return ConnectionLost(f"the connection to {where} was lost{at} ({msg}); the work done "
                              f"so far is kept: when the server is back, {resume}.")
    if code in ("28P01", "28000"):
        return TargetError(f"cannot log in to {where}: {msg}; check the user and password "
                           "(or .pgpass).")
    if code == "3D000":
        return TargetError(f"cannot connect to {where}: {msg}; create it or fix the DSN.")
    if code == "42501":
        return TargetError(f"permission denied on {where}{at}: {msg}; grant CREATE on the "
                           "database and the target schema to this user.")
    if code in ("53100", "53200"):
        return TargetError(f"the server ran out of {'disk' if code == '53100' else 'memory'}"
                           f"{at} ({msg}); free some, then {resume}.")
    if code == "53300":
        return TargetError(f"the server refuses more connections ({msg}); lower --jobs or "
                           "raise max_connections.")
    if isinstance(e, psycopg.OperationalError) and not code:
        # (libpq reports a failed connection without a SQLSTATE)
        if "password authentication failed" in msg or "no password supplied" in msg:
            return TargetError(f"cannot log in to {where}: {msg}; check the user and password "
                               "(or .pgpass).")
        if "does not exist" in msg:
            return TargetError(f"cannot connect to {where}: {msg}; create it or fix the DSN.")
        return TargetError(f"cannot connect to {where}: {msg}; check host, port and that the "
                           "server is running.")
    return TargetError(f"PostgreSQL error on {where}{at}: {msg}.")


def new_staging_name() -> str:
    return f"{STAGING_PREFIX}{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"


def existing_relations(conn: Conn, schema: str,
                       names: Iterable[str]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) ORDER BY 1",
        (schema, list(names)),
    ).fetchall()
    return [str(r[0]) for r in rows]


def relation_sizes(conn: Conn, schema: str, names: Iterable[str]) -> dict[str, int]:
    """Bytes of each table in ``schema``, its indexes and TOAST included."""
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s) "
        "AND c.relkind IN ('r', 'p')", (schema, list(names))).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def conflict_error(schema: str, names: list[str]) -> ConflictError:
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return ConflictError(f"the target schema {schema!r} already has {shown}; use "
                         "--if-exists replace to swap them out (kept for 'sqlite2pg rollback'), "
                         "--target-schema to load elsewhere, or drop them.")


def create_staging(conn: Conn, staging: str) -> None:
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(staging)))


def drop_schema(conn: Conn, schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def switch(conn: Conn, staging: str, target: str,
           tables: list[str], views: list[str], replace: bool) -> str | None:
    """Move tables and views from staging into target, in the caller's transaction.

    With ``replace``, same-named tables and views already in the target move to a dated
    backup schema first; its name is returned.
    """
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target)))
    moving = existing_relations(conn, staging, tables + views)
    in_staging = set(moving)
    # Every relation that comes along (indexes, identity sequences) must be free in target.
    all_staged = [str(r[0]) for r in conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s", (staging,)).fetchall()]
    clash = existing_relations(conn, target, all_staged)
    backup = None
    if clash:
        if not replace:
            raise conflict_error(target, clash)
        backup = f"{BACKUP_PREFIX}{time.strftime('%Y%m%d_%H%M%S')}"
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(backup)))
        owners = _owning_tables(conn, target, clash)
        for name, kind in owners:
            set_schema(conn, target, name, kind, backup)
        left = existing_relations(conn, target, all_staged)
        if left:
            raise ConflictError(f"the target schema {target!r} has {', '.join(left)}, which "
                                "are not tables or views of the same names; rename or drop "
                                "them and run again.")
    for name in tables:
        if name in in_staging:  # autovacuum back on (see hold_autovacuum)
            conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(
                sql.Identifier(staging, name)))
    for names, kind in ((tables, "r"), (views, "v")):
        for name in names:
            if name in in_staging:
                set_schema(conn, staging, name, kind, target)
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citext' AND extnamespace = "
                    "(SELECT oid FROM pg_namespace WHERE nspname = %s)", (staging,)).fetchone():
        conn.execute(sql.SQL("ALTER EXTENSION citext SET SCHEMA {}").format(
            sql.Identifier(target)))  # (made by this run, in its staging schema)
    drop_schema(conn, staging)
    return backup


def citext_schema(conn: Conn, staging: str) -> str:
    """The schema of the citext extension (COLLATE NOCASE columns), created in the staging
    schema when the database has none (so that a failed run drops it with the staging
    schema; the switch moves it into the target schema)."""
    row = conn.execute("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = "
                       "e.extnamespace WHERE e.extname = 'citext'").fetchone()
    if row is not None and str(row[0]).startswith(STAGING_PREFIX) and row[0] != staging:
        # (its columns would go with that schema when it is cleaned or its run fails)
        raise TargetError(f"the citext extension lives in {row[0]}, the staging schema of "
                          "another run; resume that run (or 'sqlite2pg clean') first.")
    if row is not None:
        return str(row[0])
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE EXTENSION citext SCHEMA {}").format(
                sql.Identifier(staging)))
    except psycopg.Error as e:
        raise TargetError(f"the plan makes COLLATE NOCASE columns citext, but the citext "
                          f"extension cannot be created ({redact(str(e).splitlines()[0])}); "
                          "install PostgreSQL's contrib package, grant CREATE on the "
                          "database, or plan with --nocase text.") from None
    return staging


def hold_autovacuum(conn: Conn, staging: str, tables: list[str]) -> None:
    """No autovacuum on the staging tables until the switch: one would start on a table
    just loaded while its indexes are built (its CPU and I/O taken from them) and hold it
    until the first ALTER TABLE waits out deadlock_timeout to cancel it. The run analyzes
    each table itself; ``switch`` resets the option."""
    for name in tables:
        conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(
            sql.Identifier(staging, name)))


def set_schema(conn: Conn, schema: str, name: str,
               kind: str, to: str) -> None:
    """Move a relation of pg_class ``kind`` (table, view, materialized view) to ``to``."""
    stmt = {"v": "ALTER VIEW {}.{} SET SCHEMA {}",
            "m": "ALTER MATERIALIZED VIEW {}.{} SET SCHEMA {}"}.get(
        kind, "ALTER TABLE {}.{} SET SCHEMA {}")
    conn.execute(sql.SQL(stmt).format(sql.Identifier(schema), sql.Identifier(name),
                                      sql.Identifier(to)))


def _owning_tables(conn: Conn, schema: str,
                   names: list[str]) -> list[tuple[str, str]]:
    """The tables and views that clashing relations are or belong to (indexes, sequences)."""
    rows = conn.execute(
        """
        SELECT DISTINCT coalesce(t.relname, c.relname), coalesce(t.relkind, c.relkind)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_index i ON i.indexrelid = c.oid
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.deptype IN ('a', 'i')
             AND d.classid = 'pg_class'::regclass AND c.relkind = 'S'
        LEFT JOIN pg_class t ON t.oid = coalesce(i.indrelid, d.refobjid)
        WHERE n.nspname = %s AND c.relname = ANY(%s)
        """, (schema, names)).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows if r[1] in ("r", "v", "p")]
