"""Operations: supervision with backoff, Rasa's token kept off the command line, loopback binding, /health."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import pytest

from bot import health
from bot.channels.health import action_health_url, report
from bot.config import rasa_token
from bot.processes import free_port, wait_http
from bot.rasa_server import rasa_argv
from bot.supervisor import Backoff, Child, Supervisor
from tests.conftest import listening_addresses

ROOT = Path(__file__).resolve().parents[1]


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# -- the supervisor, with a fake clock and fake processes ------------------------------------------


class FakeProcess:
    """A child whose exit the test decides; ``stubborn`` ones ignore terminate()."""

    pids = iter(range(1000, 100000))

    def __init__(self, stubborn: bool = False) -> None:
        self.pid = next(self.pids)
        self.code: int | None = None
        self.stubborn = stubborn
        self.killed = False

    def poll(self) -> int | None:
        return self.code

    def terminate(self) -> None:
        if not self.stubborn:
            self.code = -15

    def kill(self) -> None:
        self.killed, self.code = True, -9

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            raise subprocess.TimeoutExpired("fake", timeout or 0)
        return self.code


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clean_health() -> Iterator[None]:
    yield
    for component in list(health.status().get("problems", {})):
        health.recovered(component)


def supervised(stubborn: bool = False) -> tuple[Supervisor, Clock, list[FakeProcess]]:
    started: list[FakeProcess] = []

    def start() -> FakeProcess:
        started.append(FakeProcess(stubborn))
        return started[-1]

    clock = Clock()
    supervisor = Supervisor([Child("worker", start)], Backoff(first=1, ceiling=8, stable=60), clock=clock,
                            sleep=lambda _: None, stop_timeout=0)
    supervisor.start_all()
    return supervisor, clock, started


def test_backoff_doubles_up_to_the_ceiling() -> None:
    assert [Backoff().delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_dead_child_is_restarted_with_growing_delays_and_reported(
        caplog: pytest.LogCaptureFixture, clean_health: None) -> None:
    caplog.set_level(logging.INFO)
    supervisor, clock, started = supervised()
    restart_times = []
    for _ in range(5):  # dies at once, every time
        started[-1].code = 1
        supervisor.check()
        count = len(started)
        while len(started) == count:
            clock.now += 0.25
            supervisor.check()
        restart_times.append(clock.now)
    gaps = [round(b - a, 2) for a, b in zip([0.0, *restart_times], restart_times, strict=False)]
    assert gaps == [1, 2, 4, 8, 8]
    degraded = [r for r in caplog.records if "FRAUDBOT_DEGRADED component=process:worker" in r.getMessage()]
    assert len(degraded) == 5 and all(r.levelno == logging.ERROR for r in degraded), \
        [r.getMessage() for r in caplog.records if "FRAUDBOT_DEGRADED" in r.getMessage()]
    assert "component=process:worker" in degraded[0].getMessage()
    assert "exited with code 1; restart #1 in 1 s" in degraded[0].getMessage()
    assert health.status()["problems"]["process:worker"].startswith("exited with code 1")

    # it stays up long enough: recovered, and the next crash waits 1 s again
    clock.now += 60
    supervisor.check()
    assert health.status() == {"status": "ok"}
    assert any("FRAUDBOT_RECOVERED component=process:worker" in r.getMessage() for r in caplog.records)
    started[-1].code = 1
    supervisor.check()
    assert supervisor.children[0].restart_at == clock.now + 1


def test_nothing_is_restarted_after_stop_and_stubborn_children_are_killed() -> None:
    supervisor, clock, started = supervised(stubborn=True)
    supervisor.stop()
    supervisor.shutdown()
    assert started[0].killed
    clock.now += 100
    supervisor.check()
    assert len(started) == 1


def test_the_chat_ending_ends_the_service() -> None:
    chat, helper = FakeProcess(), FakeProcess()
    chat.code = 5
    supervisor = Supervisor([Child("rasa", lambda: chat, final=True), Child("worker", lambda: helper)],
                            sleep=lambda _: None)
    assert supervisor.run() == 5
    assert helper.code == -15  # terminated, not left behind


def test_a_real_child_that_dies_is_restarted(tmp_path: Path, clean_health: None) -> None:
    """The first run of the child writes its pid and exits 3; the second writes its pid and stays up."""
    pids = tmp_path / "pids"
    script = ("import os, sys, time, pathlib\n"
              f"p = pathlib.Path({str(pids)!r})\n"
              "first = not p.exists()\n"
              "with p.open('a') as f: f.write(f'{os.getpid()}\\n')\n"
              "sys.exit(3) if first else time.sleep(600)\n")
    child = Child("flaky", lambda: subprocess.Popen([sys.executable, "-c", script]))
    supervisor = Supervisor([child], Backoff(first=0.1, ceiling=1, stable=60), poll_interval=0.05)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2, 30, "a restarted child")
        first, second = (int(pid) for pid in pids.read_text().split())
        assert first != second and child.process is not None and child.process.pid == second
        assert child.restarts == 1
    finally:
        supervisor.stop()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert not Path(f"/proc/{second}").exists()  # stopped and reaped


# -- Rasa's token and interface --------------------------------------------------------------------


def test_rasa_arguments_get_the_token_and_loopback() -> None:
    assert rasa_argv(["run", "--enable-api"], "s3cret", "127.0.0.1") == [
        "rasa", "run", "--enable-api", "--auth-token=s3cret", "--interface", "127.0.0.1"]
    assert rasa_argv(["run", "-i", "0.0.0.0"], "", "127.0.0.1") == ["rasa", "run", "-i", "0.0.0.0"]
    with pytest.raises(SystemExit):
        rasa_argv(["run", "--auth-token", "visible"], "", "127.0.0.1")


def test_rasa_token_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDBOT_RASA_TOKEN", raising=False)
    monkeypatch.delenv("FRAUDBOT_RASA_TOKEN_FILE", raising=False)
    assert rasa_token() == ""
    secret = tmp_path / "token"
    secret.write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("FRAUDBOT_RASA_TOKEN_FILE", str(secret))
    assert rasa_token() == "from-file"
    monkeypatch.setenv("FRAUDBOT_RASA_TOKEN", "from-env")
    assert rasa_token() == "from-env"
    monkeypatch.delenv("FRAUDBOT_RASA_TOKEN")
    monkeypatch.setenv("FRAUDBOT_RASA_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(OSError):
        rasa_token()


# -- internal servers listen on loopback -------------------------------------------------------------


LOOPBACK = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


@pytest.mark.parametrize("command", [["actions.server"], ["bot.cli", "admin", "serve"], ["bot.cli", "alert", "api"]])
def test_internal_servers_listen_on_loopback_by_default(command: list[str], tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.endswith("_HOST")}
    env.update(FRAUDBOT_DB_URL=f"sqlite:///{tmp_path / 'store.db'}", FRAUDBOT_ADMIN_DIR=str(tmp_path / "admin"))
    process = subprocess.Popen([sys.executable, "-m", *command, "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: listening_addresses(port) or process.poll() is not None, 90, f"{command} listening")
        assert process.poll() is None
        assert listening_addresses(port) == {LOOPBACK}
    finally:
        process.terminate()
        process.wait(timeout=20)


# -- /health ------------------------------------------------------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


class FakeActionServer:
    """Answers ``GET /health`` on a fixed loopback port; can be stopped and started again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: HTTPServer | None = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook"

    def start(self) -> FakeActionServer:
        self.server = HTTPServer(("127.0.0.1", self.port), _Ok)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def fake_agent(action_url: str) -> SimpleNamespace:
    return SimpleNamespace(action_endpoint=SimpleNamespace(url=action_url), is_ready=lambda: True)


def test_action_health_url() -> None:
    assert action_health_url("http://localhost:5055/webhook") == "http://localhost:5055/health"
    assert action_health_url("http://a.internal/actions/webhook/") == "http://a.internal/actions/health"
    assert action_health_url("http://a.internal:1/other") == "http://a.internal:1/health"


def test_health_report_follows_the_action_server(caplog: pytest.LogCaptureFixture, clean_health: None) -> None:
    caplog.set_level(logging.WARNING, logger="fraudbot.health")
    actions = FakeActionServer().start()
    agent = fake_agent(actions.webhook)
    assert asyncio.run(report(agent)) == {"status": "ok"}
    actions.stop()
    for _ in range(3):
        state = asyncio.run(report(agent))
        assert state["status"] == "degraded" and state["problems"]["action_server"].startswith("unreachable")
    assert sum("FRAUDBOT_DEGRADED component=action_server" in r.getMessage() for r in caplog.records) == 1
    actions.start()
    assert asyncio.run(report(agent)) == {"status": "ok"}
    assert any("FRAUDBOT_RECOVERED component=action_server" in r.getMessage() for r in caplog.records)
    actions.stop()


def test_health_reports_a_missing_model_and_other_components(clean_health: None) -> None:
    assert asyncio.run(report(None)) == {"status": "degraded", "problems": {"model": "no model loaded"}}
    health.degraded("tracker_store", "OperationalError: attempt to write a readonly database")
    state = asyncio.run(report(SimpleNamespace(action_endpoint=None, is_ready=lambda: True)))
    assert state == {"status": "degraded",
                     "problems": {"tracker_store": "OperationalError: attempt to write a readonly database"}}


# -- the real Rasa server through bot.rasa_server ------------------------------------------------------


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_rasa_through_the_wrapper(trained_model: Path, tmp_path: Path) -> None:
    """The token works but is not in /proc/<pid>/cmdline; /health follows the action server; loopback only."""
    actions = FakeActionServer().start()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "{actions.webhook}"\n'
                         "tracker_store:\n  type: bot.tracker_store.RedactingSQLTrackerStore\n"
                         f'  dialect: sqlite\n  db: "{tmp_path / "rasa.db"}"\n', encoding="utf-8")
    token = "tok-" + os.urandom(8).hex()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FRAUDBOT_RASA")}
    env["FRAUDBOT_RASA_TOKEN"] = token
    log = open(tmp_path / "rasa.log", "wb")
    rasa = subprocess.Popen([sys.executable, "-m", "bot.rasa_server", "run", "-m", str(trained_model),
                             "--enable-api", "--endpoints", str(endpoints), "--credentials", "credentials.yml",
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/version", 240, rasa)
        assert token.encode() not in Path(f"/proc/{rasa.pid}/cmdline").read_bytes()
        assert get(f"{base}/status?token={token}")[0] == 200
        assert get(f"{base}/status")[0] == 401
        assert get(f"{base}/status?token=wrong")[0] == 401
        assert listening_addresses(port) == {LOOPBACK}

        assert get(f"{base}/health") == (200, {"status": "ok"})
        actions.stop()
        status, state = get(f"{base}/health")
        assert status == 200 and state["status"] == "degraded" and "action_server" in state["problems"]
        actions.start()
        assert get(f"{base}/health") == (200, {"status": "ok"})
    finally:
        actions.stop()
        rasa.terminate()
        try:
            rasa.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rasa.kill()
        log.close()
    assert "FRAUDBOT_DEGRADED component=action_server" in (tmp_path / "rasa.log").read_text(errors="replace")
