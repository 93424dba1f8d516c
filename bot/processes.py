"""Starting the project's own processes and waiting until they answer: one place for every launcher.

``fraudbot serve``, the admin's candidate bot, ``fraudbot check``, the fleet, the tests and the
benchmarks all start the same servers (the action server, Rasa, the alerts worker …). Each of
them used to carry its own free-port, wait-for-HTTP and launch code; here is the one copy, with
no import of any other project module, so anything may import it without a cycle.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def action_endpoints(actions_base: str) -> str:
    """The action-server and NLG part of a Rasa ``endpoints.yml`` for actions at ``actions_base``.

    ``enable_selective_domain``: Rasa then sends the domain (19 KB of responses, intents, slots)
    only to the actions that ask for it (the forms' ``validate_*``), not with every action call;
    our actions read the tracker and never the domain, and responses are rendered at ``/nlg``.
    """
    return (f'action_endpoint:\n  url: "{actions_base}/webhook"\n  enable_selective_domain: true\n'
            f'nlg:\n  url: "{actions_base}/nlg"\n')


def module_command(module: str, *args: str) -> list[str]:
    """``python -m module args`` with this interpreter (the project's virtual environment)."""
    return [sys.executable, "-m", module, *args]


def spawn(module: str, *args: str, log: Path | None = None, env: Mapping[str, str] | None = None,
          quiet: bool = False) -> subprocess.Popen:
    """Start ``python -m module args`` in the project root.

    ``log`` appends the child's output to a file (the child keeps its own descriptor; ours is
    closed at once); ``quiet`` drops it; otherwise it shares this process's terminal.
    """
    command = module_command(module, *args)
    environment = {**os.environ, **(env or {})}
    if log is not None:
        with open(log, "ab") as output:
            return subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=output,
                                    stderr=subprocess.STDOUT)
    sink = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=environment, stdout=sink, stderr=sink)


def wait_http(url: str, seconds: float, process: subprocess.Popen | None = None,
              any_status: bool = False) -> None:
    """Return once ``url`` answers (2xx/3xx; any HTTP status with ``any_status``).

    Raises RuntimeError at once if ``process`` exits meanwhile, TimeoutError after ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            if any_status:
                return
            time.sleep(0.3)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


async def wait_http_async(url: str, seconds: float,
                          processes: Sequence[asyncio.subprocess.Process] = ()) -> None:
    """:func:`wait_http` for an event loop that must not block: any status below 500 counts."""
    import aiohttp

    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.monotonic() < deadline:
            if any(process.returncode is not None for process in processes):
                raise RuntimeError(f"a process for {url} exited")
            try:
                async with http.get(url) as reply:
                    if reply.status < 500:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_action_server(port: int, host: str = LOOPBACK, log: Path | None = None,
                        env: Mapping[str, str] | None = None, quiet: bool = False) -> subprocess.Popen:
    """The action server (with the NLG endpoint), once it answers ``/health``."""
    process = spawn("actions.server", "--host", host, "--port", str(port), log=log, env=env, quiet=quiet)
    try:
        wait_http(f"http://{LOOPBACK}:{port}/health", 90, process)
    except Exception:
        stop(process)
        raise
    return process
