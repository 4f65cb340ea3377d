"""`--db URL` and PROBE_NAV_DATABASE_URL: the case and QC commands on a PostgreSQL database
(tests/postgres_server.py), and bad URLs refused in one line (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe_nav.storage.urls import ENV_VAR, KEY_DIR_VAR
from tests.in_process import run_main

CASE_STEPS = (
    ("new", "C-7", "--procedure", "sln-breast", "--activity-mbq", "37",
     "--opened-at", "2026-05-09T07:45Z", "--injected-at", "2026-05-09T07:30Z"),
    ("add-count", "C-7", "background", "--kind", "background", "--counts", "200",
     "--live-s", "10", "--at", "2026-05-09T10:00Z"),
    ("add-count", "C-7", "SLN 1", "--kind", "ex_vivo", "--counts", "8000", "--live-s", "10",
     "--at", "2026-05-09T10:30Z"),
)


@pytest.fixture
def pg_env(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    return postgres_url


def test_case_commands_on_postgresql_by_flag_and_by_environment(
        pg_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for step in CASE_STEPS:
        done = run_main("case", *step, "--db", pg_env)
        assert done.returncode == 0, done.stderr
    monkeypatch.setenv(ENV_VAR, pg_env)  # no --db: the environment's database
    shown = run_main("case", "show", "C-7")
    assert shown.returncode == 0, shown.stderr
    assert "SLN 1" in shown.stdout and "hottest node: remove" in shown.stdout
    verified = run_main("case", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "3 record(s): every record verified" in verified.stdout
    assert "schema cases" in verified.stdout  # which database, without a password


def test_qc_verify_on_postgresql(pg_env: str) -> None:
    done = run_main("qc", "verify", "--db", pg_env)
    assert done.returncode == 0, done.stderr
    assert "0 probe(s), 0 record(s)" in done.stdout


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "postgresql://u:secret@h:x/db",
                                 "sqlite://"])
def test_a_bad_url_is_one_line_and_exit_2(url: str) -> None:
    done = run_main("case", "list", "--db", url)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "secret" not in done.stderr
