"""A report document with a file name: built part by part (probe_nav.report.layout), laid out
by Qt's text engine (probe_nav.report.render) and written as a private PDF file (mode 0600):
all or nothing by `save()`, or into a file the caller publishes atomically by `write_into()`.
Text is drawn as text, so it can be searched and extracted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from probe_nav import files
from probe_nav.errors import UserError
from probe_nav.report.layout import Document


class PdfReport(Document):
    """A PDF report; nothing is written until save()."""

    def __init__(self, path: Path, title: str, header: Sequence[str] = (),
                 footer: str = "") -> None:
        super().__init__(title, header, footer)
        self.path = Path(path)

    # ---- output ---------------------------------------------------------------------------
    def save(self, overwrite: bool = False) -> Path:
        """Lay out all blocks on A4 pages and write the PDF (mode 0600, all or nothing); returns
        its path. An existing file is an error (probe_nav.files.OutputExists) unless
        `overwrite`."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the folder ({exc.strerror})") from None
        files.check_new_output(self.path, overwrite)  # before the work of rendering
        data = self.render()
        if not data:
            raise UserError(f"{self.path}: the PDF file could not be written")
        return files.atomic_write(self.path, data, overwrite=overwrite)

    def write_into(self, path: Path | None = None) -> Path:
        """Lay out the report and write it into the file at `path` (default: self.path),
        created with mode 0600 or truncated: the writer that probe_nav.files.atomic_write_with
        (and the CLI's write_private_file) calls with its temporary file. Returns the path."""
        target = Path(path) if path is not None else self.path
        data = self.render()
        if not data:
            raise UserError(f"{target}: the PDF file could not be written")
        with files.open_private(target, "w", binary=True) as out:
            out.write(data)
        return target

    def render(self) -> bytes:
        """Lay out all parts on A4 pages; the PDF file's bytes."""
        return self.render_pdf()
