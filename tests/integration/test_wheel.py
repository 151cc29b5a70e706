"""The built wheel deploys: installed with its dependencies in a clean virtual environment,
run from a directory outside the checkout, it migrates an empty database and serves it.

The wheel is built from a copy of the sources (no ``build/`` left in the checkout, none
reused from an older build) with the project's setuptools (``--no-build-isolation``: no
download); its dependencies are installed by pip from its cache or the index, as a deployment
would. Measured: about 25 s in all, most of it the dependencies' install.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from cpa.db.migrations import discover
from tests.support.processes import (
    PROJECT,
    SERVER_STOP_TIMEOUT_S,
    cpa_env,
    free_port,
    wait_ready,
)

# One worker builds and installs the wheel once for the run (pyproject: --dist loadgroup; the
# fixture is session-scoped, so that tests of other modules run between these do not make it
# build again).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

SOURCES = ("pyproject.toml", "README.md", "cpa", "sql")
BUILD_TIMEOUT_S = 120
INSTALL_TIMEOUT_S = 300
COMMAND_TIMEOUT_S = 120
NOT_SHIPPED = ("__pycache__", ".pyc")


class Deployment(msgspec.Struct, frozen=True):
    wheel: Path
    python: Path
    outside: Path
    """A directory outside the checkout: the commands run there."""


def _run(argv: list[str | Path], timeout_s: float) -> None:
    done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stderr.decode()[-4000:]


def _copy_sources(target: Path) -> None:
    for name in SOURCES:
        source = PROJECT / name
        if source.is_dir():
            # cpa/_sql stays a link to ../sql, as in the checkout.
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, target / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, target / name)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    sources = tmp_path_factory.mktemp("sources")
    _copy_sources(sources)
    wheels = tmp_path_factory.mktemp("wheels")
    _run(
        [sys.executable, "-m", "pip", "wheel", sources, "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", wheels],
        BUILD_TIMEOUT_S,
    )  # fmt: skip
    (wheel,) = wheels.glob("cpa-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--clear", "--without-pip", venv], COMMAND_TIMEOUT_S)
    python = venv / "bin" / "python"
    # --no-compile: the commands below compile what they import, not every installed module.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile",
          wheel], INSTALL_TIMEOUT_S)  # fmt: skip
    return Deployment(wheel, python, tmp_path_factory.mktemp("outside"))


def _env(**values: str) -> dict[str, str]:
    env = cpa_env(**values)
    env.pop("PYTHONPATH", None)
    return env


def _source_files() -> set[str]:
    """What the wheel must carry: every file of the package, sql/ under cpa/_sql."""
    found = set()
    for directory, _, names in os.walk(PROJECT / "cpa", followlinks=True):  # cpa/_sql: a link
        for name in names:
            relative = (Path(directory) / name).relative_to(PROJECT).as_posix()
            if not any(part in relative for part in NOT_SHIPPED):
                found.add(relative)
    return found


def test_the_wheel_carries_every_file_of_the_package(deployment: Deployment) -> None:
    with zipfile.ZipFile(deployment.wheel) as wheel:
        shipped = {name for name in wheel.namelist() if name.startswith("cpa/")}
    assert any(name.startswith("cpa/_sql/migrations/") for name in shipped)
    assert shipped == _source_files()


def test_the_installed_package_is_the_one_run(deployment: Deployment) -> None:
    done = subprocess.run(
        [deployment.python, "-c", "import cpa; print(cpa.__file__)"],
        capture_output=True,
        cwd=deployment.outside,
        env=_env(),
        timeout=COMMAND_TIMEOUT_S,
        check=True,
    )
    installed = Path(done.stdout.decode().strip())
    assert installed.is_relative_to(deployment.python.parents[1]), installed


def _cpa(
    deployment: Deployment, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [deployment.python, "-m", "cpa", *args],
        capture_output=True,
        cwd=deployment.outside,
        env=env,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )


def test_the_installed_wheel_migrates_and_serves(deployment: Deployment, empty_dsn: str) -> None:
    env = _env(database_url=empty_dsn, data_dir=str(deployment.outside / "data"))
    migrated = _cpa(deployment, env, "migrate")
    assert migrated.returncode == 0, migrated.stderr.decode()[-4000:]
    assert len(msgspec.json.decode(migrated.stdout)["applied"]) == len(discover())
    port = free_port()
    with (deployment.outside / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [deployment.python, "-m", "cpa", "serve", "--no-demo"],
            cwd=deployment.outside,
            env={**env, "CPA_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(SERVER_STOP_TIMEOUT_S) == 0, "a clean stop exits 0"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def path_without_pg_config() -> Iterator[str]:
    """A PATH with every command of today's PATH but ``pg_config`` (links in a directory that
    ``nobody`` can search: as root, the launcher runs its commands as ``nobody``)."""
    bin_dir = Path(tempfile.mkdtemp(prefix="cpa-path-"))
    bin_dir.chmod(0o755)
    try:
        yield _link_commands(bin_dir, skip="pg_config")
    finally:
        shutil.rmtree(bin_dir)


def _link_commands(bin_dir: Path, skip: str) -> str:
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = bin_dir / entry.name
            if entry.name != skip and not link.exists() and os.access(entry.path, os.X_OK):
                link.symlink_to(entry.path)
    return str(bin_dir)


def test_without_the_embedded_extra_serve_says_what_to_install(
    deployment: Deployment, tmp_path: Path, path_without_pg_config: str
) -> None:
    env = _env(data_dir=str(tmp_path / "data"))
    env["PATH"] = path_without_pg_config  # no system PostgreSQL either
    done = _cpa(deployment, env, "serve", "--no-demo")
    assert done.returncode == 2, done.stderr.decode()
    problem = msgspec.json.decode(done.stderr.splitlines()[-1])
    assert "cpa[embedded]" in problem["detail"]
    assert b"Traceback" not in done.stderr
