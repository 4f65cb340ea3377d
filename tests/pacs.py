"""A private Orthanc PACS for the DICOM sending tests: the Debian package's `Orthanc` started as a
child process on 127.0.0.1, with a generated configuration (free DICOM and HTTP ports, AE title
ORTHANC, no plugins, no remote access, no authentication) and its storage and index in a temporary
directory; stopped and removed at the end. With `worklists=True` it also serves, through the
package's ModalityWorklists plugin, the Modality Worklist entries (.wl files) a test writes into
its `worklist_dir` (a worklist SCP for Modality Worklist C-FIND). Each pytest-xdist worker that
needs one starts its own (the session fixture `orthanc` in tests/conftest.py). The tests read the
instances back through Orthanc's REST API (`get_json`, `get_bytes`)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.daemon import DaemonStartError, start_and_wait, stop_process

PROGRAM = "Orthanc"
PACKAGE = "orthanc"
# the Debian package's plugin serving the .wl files of a folder to Modality Worklist C-FIND
WORKLIST_PLUGIN = Path("/usr/share/orthanc/plugins/libModalityWorklists.so")
AE_TITLE = "ORTHANC"
CALLING_AE = "PROBE_NAV"  # the only AE title it accepts instances from
START_TIMEOUT_S = 60.0  # a bound, not an expectation: an empty Orthanc answers in ~0.5 s
POLL_S = 0.1
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 30.0
# no proxy from the environment (http_proxy would take even loopback requests elsewhere)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def program() -> str | None:
    """The Orthanc program: on PATH, else in /usr/sbin where the Debian package puts it (not on
    an ordinary user's PATH)."""
    return shutil.which(PROGRAM) or shutil.which(PROGRAM, path="/usr/sbin:/sbin")


def missing_reason() -> str | None:
    """Why the Orthanc tests cannot run here (naming the Debian package), or None."""
    if program() is None:
        return f"Debian package {PACKAGE} not installed (see .ci/system-packages)"
    return None


def worklist_missing_reason() -> str | None:
    """Why the worklist tests cannot run here (Orthanc or its worklist plugin missing), or
    None."""
    why = missing_reason()
    if why is None and not WORKLIST_PLUGIN.is_file():
        why = f"{WORKLIST_PLUGIN} not found (Debian package {PACKAGE})"
    return why


class OrthancStartError(DaemonStartError):
    """The private Orthanc did not start or did not answer in time."""


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateOrthanc:
    """One Orthanc on loopback with its data in a temporary directory; `start`, `stop`. With
    `worklists`, a worklist SCP too, serving the .wl files in `worklist_dir`."""

    def __init__(self, *, worklists: bool = False) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="probe-nav-orthanc-"))
        self.worklist_dir: Path | None = None
        if worklists:
            self.worklist_dir = self.dir / "worklists"
            self.worklist_dir.mkdir()
        self.config_path = self.dir / "orthanc.json"
        self.log_path = self.dir / "orthanc.log"
        self.dicom_port = free_port()
        self.http_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pacs(self) -> str:
        """The `--pacs` argument of `probe-nav case send` for this server."""
        return f"{AE_TITLE}@127.0.0.1:{self.dicom_port}"

    def _config(self) -> dict[str, Any]:
        db = self.dir / "db"
        return {"Name": "probe-nav-test", "StorageDirectory": str(db), "IndexDirectory": str(db),
                "Plugins": [], "DicomServerEnabled": True, "DicomAet": AE_TITLE,
                "DicomPort": self.dicom_port, "DicomCheckCalledAet": False,
                "HttpServerEnabled": True, "HttpPort": self.http_port,
                "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                "SslEnabled": False, "HttpsVerifyPeers": False, "StorageCompression": False,
                # Orthanc 1.10's DICOM server listens on every interface (no listen address
                # option): only probe-nav's AE title from loopback may store into it
                "DicomModalities": {"probe-nav": [CALLING_AE, "127.0.0.1", 104]},
                "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False,
                "DicomCheckModalityHost": True,
                "ConcurrentJobs": 1, "HttpThreadsCount": 4, "SaveJobs": False,
                **self._worklist_config()}

    def _worklist_config(self) -> dict[str, Any]:
        if self.worklist_dir is None:
            return {}
        # the same DicomModalities entry lets only probe-nav's AE title from loopback ask
        return {"Plugins": [str(WORKLIST_PLUGIN)],
                "Worklists": {"Enable": True, "Database": str(self.worklist_dir)}}

    def _command(self) -> list[str]:
        cmd = [program() or PROGRAM, str(self.config_path)]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:  # Orthanc dies with this process, even if it is killed
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
        return cmd

    def start(self) -> None:
        """Write the configuration, start Orthanc and wait (bounded) until GET /system answers;
        OrthancStartError otherwise."""
        self.config_path.write_text(json.dumps(self._config(), indent=2))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C",
               "HOME": str(self.dir)}
        try:
            self.proc = start_and_wait(self._command(), env=env, log_path=self.log_path,
                                       answers=self.answers, timeout_s=START_TIMEOUT_S,
                                       poll_s=POLL_S, name="Orthanc (GET /system)", cwd=self.dir,
                                       stop_timeout_s=STOP_TIMEOUT_S)
        except DaemonStartError as exc:
            raise OrthancStartError(f"private Orthanc ({self.dir}): {exc}") from None

    def answers(self) -> bool:
        """True when the REST API answers GET /system with this server's AE title."""
        try:
            return bool(self.get_json("/system", timeout_s=2.0).get("DicomAet") == AE_TITLE)
        except (OSError, ValueError):
            return False

    def stop(self, *, remove: bool = True) -> None:
        """Stop Orthanc (SIGTERM, then SIGKILL) and remove its directory."""
        proc, self.proc = self.proc, None
        stop_process(proc, STOP_TIMEOUT_S)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- REST -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get_bytes(self, path: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> bytes:
        """The body of GET `path` (e.g. /instances/{id}/file)."""
        with _OPENER.open(self.url(path), timeout=timeout_s) as rsp:
            return bytes(rsp.read())

    def get_json(self, path: str, *, timeout_s: float = HTTP_TIMEOUT_S) -> Any:
        """GET `path` as JSON (e.g. /instances, /instances/{id}/tags?simplify)."""
        return json.loads(self.get_bytes(path, timeout_s=timeout_s))

    def delete_everything(self) -> None:
        """Remove every patient (so a test starts from an empty PACS)."""
        for patient in self.get_json("/patients"):
            req = urllib.request.Request(self.url(f"/patients/{patient}"), method="DELETE")
            with _OPENER.open(req, timeout=HTTP_TIMEOUT_S):
                pass

    def instances_by_sop_uid(self) -> dict[str, str]:
        """SOP Instance UID -> Orthanc's instance id, for every stored instance."""
        out = {}
        for orthanc_id in self.get_json("/instances"):
            tags = self.get_json(f"/instances/{orthanc_id}/tags?simplify")
            out[tags["SOPInstanceUID"]] = orthanc_id
        return out


@contextlib.contextmanager
def serving(worklists: bool = False) -> Iterator[PrivateOrthanc]:
    """A started PrivateOrthanc for a fixture, stopped at the end; the test skipped without
    Orthanc (or its worklist plugin), failed instead under CI=true where it must run."""
    import pytest

    why = worklist_missing_reason() if worklists else missing_reason()
    if why is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no Orthanc: {why}")
        pytest.skip(f"no Orthanc: {why}")
    server = PrivateOrthanc(worklists=worklists)
    try:
        server.start()
    except OrthancStartError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()
