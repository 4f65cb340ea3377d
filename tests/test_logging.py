"""The process's logging (probe_nav/logs.py, `--log-level`): stderr at WARNING by default, a private
rotating file at INFO in the data directory, one warning (never a stop) when that cannot be
written, and no duplicate handlers."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from probe_nav import logs
from probe_nav.cli.main import main
from tests.conftest import run_cli

LOG = logging.getLogger("probe_nav.test_logging")


def our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, logs._MARK, False)]


def log_lines(data_dir: Path) -> list[str]:
    return (data_dir / logs.LOG_FILE_NAME).read_text(encoding="utf-8").splitlines()


def test_configuring_twice_adds_no_duplicate_handlers(tmp_path: Path) -> None:
    first = logs.configure_logging(log_dir=tmp_path)
    second = logs.configure_logging("info", log_dir=tmp_path)
    assert first == second == tmp_path / logs.LOG_FILE_NAME
    handlers = our_handlers()
    assert len(handlers) == 2
    assert sorted(type(h).__name__ for h in handlers) == ["_LogFile", "_StderrHandler"]
    LOG.info("once")
    assert sum("once" in line for line in log_lines(tmp_path)) == 1


def test_levels_by_name_any_case() -> None:
    assert logs.parse_level("DEBUG") == logging.DEBUG and logs.parse_level(" info ") == logging.INFO
    with pytest.raises(ValueError, match="verbose"):
        logs.parse_level("verbose")


def test_bad_log_level_is_one_line_and_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--log-level", "verbose", "sim", "list"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--log-level" in err and "'verbose'" in err
    assert our_handlers() == []  # refused before anything was configured


def test_log_level_debug_shows_debug_lines(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(tmp_path))
    assert main(["--log-level", "Debug", "sim", "list"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(" DEBUG probe_nav.cli.main: log file: " in line for line in err), err
    assert any(" INFO probe_nav.cli.main: probe-nav " in line for line in err), err
    # the file follows stderr down to DEBUG
    assert any(" DEBUG probe_nav.cli.main: log file: " in line for line in log_lines(tmp_path))


def test_default_run_keeps_info_off_stderr_and_writes_the_file(tmp_path: Path,
                                                               monkeypatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(data))
    done = run_cli("record", "--sim", "sln-static", "--speed", "20", "--duration", "2",
                   "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 0, done.stderr
    # the command's own summary line and no INFO record: at the default level only warnings
    # reach stderr (a loaded machine may cause one, e.g. a moment of STALE while connecting)
    lines_out = done.stderr.splitlines()
    assert [line for line in lines_out if line.startswith("recorded ")] == lines_out[-1:]
    assert all(" WARNING " in line for line in lines_out[:-1]), done.stderr
    path = data / logs.LOG_FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == logs.LOG_FILE_MODE
    lines = log_lines(data)
    for expected in ("INFO probe_nav.cli.main: probe-nav ", "connected at 115200 baud",
                     "identified as probe-nav simulated probe", "link CONNECTING -> CONNECTED",
                     "closed after "):
        assert any(expected in line for line in lines), (expected, lines)
    assert not any(" DEBUG " in line for line in lines)
    assert all(line[:4].isdigit() and f"[{line.split('[')[1].split(']')[0]}]" in line
               for line in lines)  # time and process id on every line


def test_a_read_only_data_dir_costs_one_warning(tmp_path: Path, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes into a read-only directory: refuse as the kernel would
        def refuse(self):
            raise PermissionError(13, "Permission denied", self.baseFilename)

        monkeypatch.setattr(logs._LogFile, "_open", refuse)
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(data))
    assert main(["sim", "list"]) == 0
    out, err = capsys.readouterr()
    assert "sln-static" in out
    assert err.count("\n") == 1 and "cannot write the log file" in err, err
    assert "Permission denied" in err and "Traceback" not in err


def test_a_data_dir_that_cannot_be_made_costs_one_warning(tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(blocker / "data"))  # works for root too
    assert main(["sim", "list"]) == 0
    out, err = capsys.readouterr()
    assert "sln-static" in out
    assert err.count("\n") == 1 and "cannot write the log file" in err, err
    assert [type(h).__name__ for h in our_handlers()] == ["_StderrHandler"]
    LOG.warning("still logged")
    assert "still logged" in capsys.readouterr().err


def test_the_file_rotates_and_keeps_a_few_backups(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(logs, "LOG_FILE_MAX_BYTES", 2000)
    logs.configure_logging(log_dir=tmp_path)
    for i in range(300):  # ~25 kB of lines
        LOG.info("line %03d of the rotation test", i)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["probe-nav.log"] + [f"probe-nav.log.{i}" for i in
                                         range(1, logs.LOG_FILE_BACKUPS + 1)]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "line 299" in log_lines(tmp_path)[-1]


def test_a_log_file_that_fails_later_says_so_once(tmp_path: Path, capsys) -> None:
    logs.configure_logging(log_dir=tmp_path)
    (file_handler,) = [h for h in our_handlers() if isinstance(h, logs._LogFile)]
    file_handler.stream.close()  # as if the disk went away under it
    LOG.warning("first")
    LOG.warning("second")
    err = capsys.readouterr().err
    assert err.count("cannot write the log file") == 1 and "Traceback" not in err
    assert "first" in err and "second" in err  # stderr carries on


def test_reported_records_go_to_the_file_but_not_again_to_stderr(tmp_path: Path,
                                                                 capsys) -> None:
    logs.configure_logging(log_dir=tmp_path)
    LOG.warning("told the user already", extra=logs.REPORTED)
    LOG.warning("news")
    err = capsys.readouterr().err
    assert "news" in err and "told the user already" not in err
    assert any("told the user already" in line for line in log_lines(tmp_path))
