"""`write_private_file`: probe_nav.files.atomic_write_with for the command line (its errors as one
UserError line), shared by `qc` and `case` for their PDF reports; `check_output_path`, the check
of an output option (`sim --out/--truth`, `locate --nrrd`) before any work is done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from probe_nav.errors import UserError


def write_private_file(path: str | Path, write: Callable[[Path], object], force: bool,
                       option: str = "--out") -> Path:
    """Have `write(temp)` write a whole file at a private (0600) temporary path (an anonymous
    file where the kernel allows, else a hidden name beside `path`), then publish it as `path`
    atomically (probe_nav.files.atomic_write_with): never a partial file under the name, never
    a file readable by others, at worst a hidden ".[NAME.]RANDOM.tmp" left by a crash, an
    existing one replaced only with --force. UserError (one line) if it exists or cannot be
    written. For writers (the PDF reports) that take a path rather than writing through
    probe_nav.files themselves."""
    from probe_nav.files import OutputExists, atomic_write_with

    try:
        return atomic_write_with(path, write, overwrite=force)
    except OutputExists:
        raise UserError(f"{option} {path} exists; add --force to replace it") from None
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_output_path(path: str, option: str, suffixes: tuple[str, ...], force: bool) -> Path:
    """`path` as the new output of `option`: one of `suffixes`, not there yet (or --force), in
    an existing, writable folder; UserError (one line) otherwise."""
    from probe_nav.files import check_new_output

    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise UserError(f"{option} {out} must end in {' or '.join(suffixes)}")
    try:
        check_new_output(out, force)
    except FileExistsError:
        raise UserError(f"{option} {out} exists; add --force to replace it") from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    if not out.resolve().parent.is_dir():
        raise UserError(f"cannot write {out}: the folder does not exist")
    return out
