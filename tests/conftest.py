"""Shared fixtures: the trained model, and real servers on loopback for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from bot.fleet import EngineMissing, Postgres
from bot.nlu_client import quiet_logs
from bot.processes import action_endpoints, free_port, start_action_server, stop, wait_http
from tests.fakes.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "fraudbot.tar.gz"
quiet_logs()
# Every server a test starts hashes sender ids with this salt (bot/privacy.py), instead of
# creating the deployment's salt file under var/.
os.environ.setdefault("FRAUDBOT_ID_SALT", "fraudbot-test-salt")

# --- layers: `make test-fast` runs what needs no model, no browser, no fleet engines and no long waits ----
# A test needs the model when it uses one of MODEL_FIXTURES (directly or through another fixture:
# pytest lists the whole closure); it is slow when it uses one of SLOW_FIXTURES or is named in
# SLOW_TESTS, which take seconds of real time on purpose. Browser tests are a module; fleet tests
# are named so, and a test that uses the engines' fixtures without the name is marked all the same.
MODEL_FIXTURES = frozenset({"trained_model", "rasa_server", "rasa_server_without_actions", "action_server"})
FLEET_FIXTURES = frozenset({"fleet", "postgres", "redis_server"})  # bot.fleet's engines, per test module
SLOW_FIXTURES = frozenset({"api"})  # test_alerts: the alerts API as its own process, started for each test
SLOW_TESTS = frozenset({
    "test_alerts.py::test_killed_mid_send_and_restarted_never_sends_twice",  # 1,000 sends at the rate limits
    "test_alerts.py::test_thousand_targets_each_get_exactly_one_message",  # the same, refusals waited out
    "test_alerts.py::test_command_line",  # a dozen `fraudbot` processes
    "test_ocr.py::test_ocr_reads_sms_and_chat_screenshots",  # loads the OCR engines in a new process
})
BROWSER_MODULES = frozenset({"test_admin_browser.py", "test_review_browser.py", "test_daily_browser.py",
                             "test_campaign_browser.py", "test_campaigns_browser.py"})  # Chromium


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by -m
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with what makes it slow (`model`, `browser`, `fleet`, `slow`), so that
    ``-m "not model and not browser and not fleet and not slow"`` keeps the quick ones."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        named = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        if fixtures & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)
        if item.path.name in BROWSER_MODULES:
            item.add_marker(pytest.mark.browser)
        if "fleet" in item.name or fixtures & FLEET_FIXTURES:
            item.add_marker(pytest.mark.fleet)
        if fixtures & SLOW_FIXTURES or named in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it)")
    return MODEL


@pytest.fixture(scope="session")
def action_server() -> Iterator[str]:
    """The real action server with this project's actions and NLG endpoint."""
    port = free_port()
    process = start_action_server(port, quiet=True)
    yield f"http://127.0.0.1:{port}/webhook"
    stop(process)


def start_rasa(model: Path, action_url: str, tmp: Path, log_name: str, credentials: Path | None = None,
               env: dict[str, str] | None = None, args: tuple[str, ...] = (), module: str = "bot.rasa_server",
               interface: str | None = "127.0.0.1") -> tuple[subprocess.Popen, str]:
    """Start the real Rasa server with our channels, talking to ``action_url``.

    By default as ``fraudbot serve`` does (``bot.rasa_server``: the token from the environment,
    the fixes of :mod:`bot.rasa_fixes`); ``module="rasa"`` starts Rasa's own command line;
    ``interface=None`` passes no ``-i``, so the listening address is the project's default. The
    SQLite tracker store is ``tmp/rasa-<port>.db`` (:func:`tracker_db`).
    """
    port = free_port()
    endpoints = tmp / f"endpoints-{port}.yml"
    endpoints.write_text(action_endpoints(action_url.removesuffix("/webhook"))
                         + "tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n"
                         f'  dialect: sqlite\n  db: "{tracker_db(tmp, port)}"\n', encoding="utf-8")
    listen = ("-i", interface) if interface else ()
    with open(tmp / log_name, "wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, "-m", module, "run", "-m", str(model), "--endpoints", str(endpoints),
             "--credentials", str(credentials or "credentials.yml"), "--port", str(port), *listen, *args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        wait_http(f"http://127.0.0.1:{port}/webhooks/rest/", 240, process)
    except Exception:
        stop(process)
        raise
    return process, f"http://127.0.0.1:{port}"


def tracker_db(tmp: Path, port: int) -> Path:
    """The SQLite tracker store of the Rasa that :func:`start_rasa` started on ``port``."""
    return tmp / f"rasa-{port}.db"


def listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port``, as /proc/net/tcp and tcp6 write them (hex)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture(scope="session")
def rasa_server(trained_model: Path, action_server: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_rasa(trained_model, action_server, tmp_path_factory.mktemp("rasa"), "rasa.log")
    yield url
    stop(process)


@pytest.fixture(scope="session")
def rasa_server_without_actions(trained_model: Path,
                                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Rasa server whose action server is unreachable (nothing listens on that port)."""
    dead = f"http://127.0.0.1:{free_port()}/webhook"
    process, url = start_rasa(trained_model, dead, tmp_path_factory.mktemp("rasa-dead"), "rasa.log")
    yield url
    stop(process)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster for a test module (Debian's packages; `make test` installs them)."""
    directory = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    directory.chmod(0o755)  # PostgreSQL runs as its own user and must reach its data directory (not pytest's tmp)
    server = Postgres(directory / "postgres", durable=False)
    try:
        server.start()
    except EngineMissing as missing:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip(str(missing))
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def running_fake_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API on loopback (tests/fakes/telegram_api.py), released and stopped afterwards."""
    api = FakeTelegram().start()
    try:
        yield api
    finally:
        api.release()
        api.stop()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API for one test."""
    with running_fake_telegram() as api:
        yield api
