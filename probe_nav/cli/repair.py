"""`probe-nav repair FILE [--out FILE2]`: a clean copy of a recording that was cut short.

The copy keeps every line up to the first that is not good (a torn last line, a damaged row,
anything after an end line) and ends with the honest end line `# end: repaired, N frames`, after a
comment saying what was dropped. An X.partial.csv that is whole, with its end line (the recorder
was stopped between its end line and its rename), is copied as it is, end line included. The
source is never changed. FILE may be a session directory
(its frames.partial.csv, or frames.csv). The default output is X.csv for X.partial.csv, the
session's frames.csv for a session, else X.repaired.csv; an existing output is replaced only
with --force.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from probe_nav.errors import UserError

PARTIAL_SUFFIX = ".partial.csv"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `repair` subcommand."""
    p = sub.add_parser("repair", help="write a clean copy of a recording that was cut short",
                       description=__doc__)
    p.add_argument("file", metavar="FILE", help="a frame CSV file or a session directory")
    p.add_argument("--out", metavar="FILE2", help="where the copy goes (default: see above)")
    p.add_argument("--force", action="store_true", help="replace FILE2 if it exists")
    p.set_defaults(func=run)


def default_output(source: Path, session: bool) -> Path:
    """X.partial.csv -> X.csv; a session's frames file -> its frames.csv; else X.repaired.csv."""
    from probe_nav.cases.session import FRAMES_FILE

    if session:
        return source.parent / FRAMES_FILE
    if source.name.endswith(PARTIAL_SUFFIX):
        return source.with_name(source.name[: -len(PARTIAL_SUFFIX)] + ".csv")
    return source.with_name(f"{source.stem}.repaired.csv")


def _read_lines(path: Path) -> list[str]:
    from probe_nav.io.frames_csv import FrameCsvError, decode_lines

    try:
        return decode_lines(path.read_bytes(), str(path))
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None


def _write(target: Path, text: str, force: bool) -> None:
    """The copy as a new 0600 file, all or nothing; UserError (one line) if it cannot be."""
    from probe_nav.files import OutputExists, atomic_write_text

    try:
        atomic_write_text(target, text, overwrite=force)
    except OutputExists:
        raise UserError(f"{target} exists; add --force to replace it (or choose --out)") from None
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Write the repaired copy and say what was kept and dropped."""
    from probe_nav.cases.session import session_frames_file
    from probe_nav.io.frames_csv import END_REPAIRED, FrameCsvError, end_line, salvage_frames_csv

    given = Path(args.file)
    session = given.is_dir()
    source = session_frames_file(given)
    target = Path(args.out) if args.out else default_output(source, session)
    if target.resolve() == source.resolve():
        raise UserError(f"--out {target}: the copy must not replace its source")
    try:
        salvage = salvage_frames_csv(_read_lines(source), str(source))
    except FrameCsvError as exc:
        raise UserError(f"{exc}: nothing to repair from") from None
    if not salvage.problem and salvage.end is not None:
        if not source.name.endswith(PARTIAL_SUFFIX):
            print(f"{source}: nothing to repair: {salvage.frames} frames, ended "
                  f"'{salvage.end}'", file=sys.stderr)
            return 0
        # Whole, with its end line, but never renamed (stopped between the two): the copy is
        # the recording under its final name, with its own end line.
        text = "".join(salvage.lines) + end_line(salvage.end, salvage.frames)
        _write(target, text, args.force)
        print(f"finished {source} -> {target}: {salvage.frames} frames, ended '{salvage.end}' "
              "(the recording was stopped before its rename)", file=sys.stderr)
        return 0
    what = (f"dropped {salvage.dropped_lines} line(s) from the first problem on: "
            f"{salvage.problem}" if salvage.problem else "the recording had no end line")
    if salvage.end is not None:
        what += f" (the source's end line said '{salvage.end}')"
    text = "".join(salvage.lines) + f"# repaired by probe-nav from {source}: {what}\n"
    text += end_line(END_REPAIRED, salvage.frames)
    _write(target, text, args.force)
    print(f"repaired {source} -> {target}: {salvage.frames} frames kept; {what}",
          file=sys.stderr)
    return 0
