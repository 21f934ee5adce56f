"""Test fixtures: a real PostgreSQL server, never a mock.

The server is, in order: ``SQLITE2PG_TEST_DSN``; a throwaway cluster started from the
local server binaries; a testcontainers PostgreSQL when a Docker daemon answers. Under CI
(``CI`` set) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_fixture  # noqa: E402
import pgcluster  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/*.sql from the current output")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def _docker_dsn() -> tuple[str, object] | None:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]
    except Exception:
        return None
    container = PostgresContainer("postgres:16")
    container.start()
    url = container.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    return url, container


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    dsn = os.environ.get("SQLITE2PG_TEST_DSN")
    if dsn:
        yield dsn
        return
    if pgcluster.find_bindir() is not None:
        base = Path(tempfile.mkdtemp(prefix="sqlite2pg-pg-"))
        try:
            yield pgcluster.start(base)
        finally:
            pgcluster.stop(base)
        return
    found = _docker_dsn()
    if found is not None:
        url, container = found
        try:
            yield url
        finally:
            container.stop()  # type: ignore[attr-defined]
        return
    message = ("no PostgreSQL server: set SQLITE2PG_TEST_DSN, install the server binaries "
               "(apt-get install postgresql) or start Docker")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_dsn(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with fresh_database(pg_server) as dsn:
        yield dsn


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new, empty database on ``server`` (its DSN), dropped afterwards."""
    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(server)
    info["dbname"] = name
    try:
        yield psycopg.conninfo.make_conninfo("", **info)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))


def schemas(dsn: str) -> set[str]:
    """The schemas of the database ``dsn`` (a refused run must leave them as they were)."""
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}


def build_db(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()
    return path


def saas_fixture(tmp_path_factory: pytest.TempPathFactory, scale: float) -> Path:
    return saas_fixture_at(tmp_path_factory.mktemp("saas") / f"saas-{scale:g}.db", scale)


def saas_fixture_at(path: Path, scale: float) -> Path:
    make_fixture.build(path, scale=scale)
    return path


@pytest.fixture(scope="session")
def saas_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SaaS fixture at scale 0.01 (9,935 rows; api_logs 8,000)."""
    return saas_fixture(tmp_path_factory, 0.01)


def edge_schemas() -> list[Path]:
    return sorted((ROOT / "schemas" / "edge").glob("*.sql"))
