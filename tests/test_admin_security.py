"""Admin logins under attack: no account enumeration, throttling instead of lockout, sessions revoked.

The clock is injected: delays are checked at the exact second they end, without sleeping.
The last tests drive the real admin app on loopback (in this process, so that it can use the
same injected clock).
"""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import pytest
from sanic import Sanic
from sqlalchemy import select

from bot.admin.accounts import FORGET_AFTER, PER_ADDRESS, PER_LOGIN, REFUSED, Accounts, LoginRefused
from bot.admin.content import read_files, write_files
from bot.alerts.model import audit_log
from bot.config import AdminConfig

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a long enough password"
ATTACKER, OWNER = "203.0.113.7", "198.51.100.20"


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Accounts:
    made = Accounts(f"sqlite:///{tmp_path / 'store.db'}", clock=clock)
    made.create("li", "李警官", "admin", PASSWORD)
    return made


def attempt(accounts: Accounts, login: str, password: str, address: str) -> str | None:
    """The refusal's message, or None when the login succeeded."""
    try:
        accounts.login(login, password, address)
    except LoginRefused as refused:
        return str(refused)
    return None


def fail_until_throttled(accounts: Accounts, login: str, address: str) -> None:
    """Wrong passwords until the next attempt for ``login`` from ``address`` has to wait."""
    for _ in range(PER_LOGIN.free):
        assert attempt(accounts, login, "wrong password", address) == REFUSED


def audited(accounts: Accounts, action: str = "login_failed") -> list[tuple[str, str]]:
    """The audit log's rows for ``action``: login_failed (checked) or login_too_soon (refused unchecked)."""
    with accounts._engine.connect() as db:  # the audit log is read by people, not by the code
        return [(row.actor, row.detail) for row in
                db.execute(select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def test_a_session_lives_until_logout_or_expiry(accounts: Accounts, clock: Clock) -> None:
    token = accounts.login("li", PASSWORD, OWNER)
    user = accounts.user(token)
    assert user is not None and user.login == "li" and user.is_admin and len(user.csrf) >= 24
    accounts.logout(token)
    assert accounts.user(token) is None
    token = accounts.login("li", PASSWORD, OWNER)
    clock.advance(12 * 3600)
    assert accounts.user(token) is None
    assert accounts.user("forged-token") is None
    with pytest.raises(ValueError):
        accounts.create("short", "短", "admin", "short")


def test_unknown_wrong_and_too_soon_get_the_same_answer(accounts: Accounts, clock: Clock) -> None:
    unknown = attempt(accounts, "nobody", PASSWORD, OWNER)
    wrong = attempt(accounts, "li", "wrong password", OWNER)
    fail_until_throttled(accounts, "li", ATTACKER)
    too_soon = attempt(accounts, "li", PASSWORD, ATTACKER)  # even the right password
    assert unknown == wrong == too_soon == REFUSED
    assert "用户名或密码不对" in REFUSED and "锁定" not in REFUSED
    # an unknown login is throttled exactly like a known one, so the delays tell nothing either
    fail_until_throttled(accounts, "nobody", ATTACKER)
    assert attempt(accounts, "nobody", PASSWORD, ATTACKER) == REFUSED
    clock.advance(PER_LOGIN.first.total_seconds())
    assert attempt(accounts, "li", PASSWORD, ATTACKER) is None


def test_delays_double_from_one_second_up_to_the_cap(accounts: Accounts, clock: Clock) -> None:
    expected = [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]  # seconds after each failure
    for failures, wait in enumerate(expected, start=1):
        assert attempt(accounts, "li", "wrong password", ATTACKER) == REFUSED
        assert len(audited(accounts)) == failures  # checked, not refused as too soon
        if wait:
            clock.advance(wait - 0.5)
            assert attempt(accounts, "li", PASSWORD, ATTACKER) == REFUSED  # even the right one, unchecked
            assert len(audited(accounts, "login_too_soon")) == len([w for w in expected[:failures] if w])
            clock.advance(0.5)
    assert attempt(accounts, "li", PASSWORD, ATTACKER) is None  # the owner, once the wait is over
    # a success forgets this address's failures for this login
    fail_until_throttled(accounts, "li", ATTACKER)
    clock.advance(1)
    assert attempt(accounts, "li", PASSWORD, ATTACKER) is None


def test_an_attacker_cannot_keep_the_owner_out(accounts: Accounts, clock: Clock) -> None:
    for _ in range(20):  # hours of guessing, each guess as soon as the delay allows
        assert attempt(accounts, "li", "guess", ATTACKER) == REFUSED
        clock.advance(PER_LOGIN.wait(len(audited(accounts))).total_seconds())
    assert len(audited(accounts)) == 20 and not audited(accounts, "login_too_soon")
    clock.advance(-1)  # the attacker's delay (15 minutes) is not over
    assert attempt(accounts, "li", PASSWORD, ATTACKER) == REFUSED
    token = accounts.login("li", PASSWORD, OWNER)  # the owner, from anywhere else, signs in at once
    assert accounts.user(token) is not None


def test_an_address_spraying_many_logins_is_slowed_down(accounts: Accounts, clock: Clock) -> None:
    for index in range(PER_ADDRESS.free):  # one guess per login: never the per-login delay
        assert attempt(accounts, f"user{index}", "guess", ATTACKER) == REFUSED
    assert attempt(accounts, "li", PASSWORD, ATTACKER) == REFUSED  # a fresh login, too soon
    assert attempt(accounts, "li", PASSWORD, OWNER) is None  # other addresses are not affected
    clock.advance(PER_ADDRESS.first.total_seconds())
    assert attempt(accounts, "li", PASSWORD, ATTACKER) is None


def test_failures_are_forgotten_after_a_day(accounts: Accounts, clock: Clock) -> None:
    fail_until_throttled(accounts, "li", ATTACKER)
    clock.advance(FORGET_AFTER.total_seconds() + 1)
    fail_until_throttled(accounts, "li", ATTACKER)  # free again: all checked, none too soon
    assert len(audited(accounts)) == 2 * PER_LOGIN.free and not audited(accounts, "login_too_soon")


def test_failures_are_audited_with_the_address(accounts: Accounts) -> None:
    attempt(accounts, "li", "wrong password", ATTACKER)
    attempt(accounts, "li", "wrong password", ATTACKER)
    attempt(accounts, "nobody", "guess", OWNER)
    assert audited(accounts) == [
        ("li", f"from {ATTACKER}, failure 1 from there"), ("li", f"from {ATTACKER}, failure 2 from there"),
        ("nobody", f"from {OWNER}, failure 1 from there, no such account")]


def test_parallel_guesses_cannot_all_slip_through_one_opening(accounts: Accounts) -> None:
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda _: attempt(accounts, "li", "guess", ATTACKER), range(24)))
    assert answers == [REFUSED] * 24
    checked = audited(accounts)
    assert 1 <= len(checked) <= PER_LOGIN.free, checked  # the others were refused before any check


def test_refusals_take_the_same_time(accounts: Accounts) -> None:
    """Unknown login, wrong password and too soon all pay one scrypt (the old code answered 已锁定 in 4 ms)."""
    fail_until_throttled(accounts, "li", ATTACKER)  # the clock stands still: too soon from there, every time
    rounds = 21  # medians of 21 stay steady on a busy machine
    times: dict[str, list[float]] = {"unknown": [], "wrong": [], "too soon": []}
    for round_ in range(rounds):
        fresh = f"192.0.2.{round_}"  # never throttled
        cases = [("unknown", "nobody", fresh), ("wrong", "li", fresh), ("too soon", "li", ATTACKER)]
        for name, login, address in cases[round_ % 3:] + cases[:round_ % 3]:  # each goes first as often
            started = time.perf_counter()
            assert attempt(accounts, login, "guess", address) == REFUSED
            times[name].append(time.perf_counter() - started)
    assert len(audited(accounts)) == PER_LOGIN.free + 2 * rounds  # the "too soon" ones were never checked
    medians = {name: statistics.median(values) for name, values in times.items()}
    assert max(medians.values()) < 1.3 * min(medians.values()), medians
    assert min(medians.values()) > 0.01, medians  # the scrypt work is really done


def test_a_password_reset_signs_the_account_out_everywhere(accounts: Accounts) -> None:
    first, second = accounts.login("li", PASSWORD, OWNER), accounts.login("li", PASSWORD, ATTACKER)
    accounts.create("wang", "王警官", "officer", PASSWORD)
    kept = accounts.login("wang", PASSWORD, OWNER)
    accounts.create("li", "李警官", "admin", "a new long password")  # what `fraudbot admin create-user` calls
    assert accounts.user(first) is None and accounts.user(second) is None
    assert accounts.user(kept) is not None  # other accounts keep their sessions
    assert attempt(accounts, "li", PASSWORD, OWNER) == REFUSED
    assert accounts.user(accounts.login("li", "a new long password", OWNER)) is not None


# --- through the admin app on loopback ---------------------------------------------------------


@pytest.fixture
def admin_app(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Sanic:
    """The real admin app, its accounts on the injected clock."""
    from bot.admin.app import create_app

    monkeypatch.setenv("FRAUDBOT_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setattr(Sanic, "test_mode", True)  # one app per test in this process
    live = tmp_path / "live"
    write_files(live, read_files(ROOT))
    config = AdminConfig(live_root=live, admin_dir=tmp_path / "admin", rasa_urls=(), rasa_token="",
                         live_model=tmp_path / "model.tar.gz", endpoints=tmp_path / "endpoints.yml",
                         secure_cookies=False)
    app = create_app(config, validate=lambda files: [])
    app.ctx.admin.accounts = Accounts(clock=clock)
    app.ctx.admin.accounts.create("li", "李警官", "admin", PASSWORD)
    return app


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    """``app`` on a free loopback port, in this event loop; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def post_login(http: aiohttp.ClientSession, url: str, login: str, password: str) -> tuple[int, str]:
    """Open the login page and sign in: the answer's status and page (its random tokens blanked)."""
    async with http.get(f"{url}/admin/login") as page:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    form = {"csrf": csrf, "login": login, "password": password, "next": "/admin/"}
    async with http.post(f"{url}/admin/login", data=form, allow_redirects=False) as answer:
        return answer.status, re.sub(r'value="[^"]{16,}"', 'value=""', await answer.text())


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # keeps cookies for 127.0.0.1


def test_the_login_page_answers_unknown_wrong_and_too_soon_alike(admin_app: Sanic) -> None:
    attempts = [("nobody", PASSWORD)] + [("li", "wrong password")] * PER_LOGIN.free + [("li", PASSWORD)]

    async def scenario() -> list[tuple[int, str]]:
        async with serving(admin_app) as url, browser() as http:
            return [await post_login(http, url, login, password) for login, password in attempts]

    answers = asyncio.run(scenario())
    assert {status for status, _ in answers} == {401}
    assert len({page for _, page in answers}) == 1 and REFUSED in answers[0][1]


def test_a_reset_ends_a_session_held_in_a_browser(admin_app: Sanic, clock: Clock) -> None:
    async def scenario() -> list[tuple[int, str]]:
        seen = []
        async with serving(admin_app) as url, browser() as http:
            seen.append(await post_login(http, url, "li", PASSWORD))
            for reset in (False, True):
                if reset:  # `fraudbot admin create-user li` again, from another process
                    Accounts(clock=clock).create("li", "李警官", "admin", "a new long password")
                async with http.get(f"{url}/admin/", allow_redirects=False) as page:
                    seen.append((page.status, page.headers.get("Location", "")))
        return seen

    signed_in, before, after = asyncio.run(scenario())
    assert signed_in[0] == 303 and before == (200, "")
    assert after == (302, "/admin/login?next=/admin/")


def test_recognition_rules_are_edited_in_the_draft(admin_app: Sanic) -> None:
    """The safeguards (and the other files the bot hears with) have a page: shown, saved to the draft."""
    async def scenario() -> tuple[str, int, str, int]:
        async with serving(admin_app) as url, browser() as http:
            await post_login(http, url, "li", PASSWORD)
            async with http.get(f"{url}/admin/rules/safeguards.yml") as page:
                shown = await page.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', shown).group(1)
            text = admin_app.ctx.admin.draft.read("core/data/safeguards.yml")
            edited = text.replace("    - 12381\n", "    - 12381|一二三八一\n", 1)
            async with http.post(f"{url}/admin/rules/safeguards.yml", data={"csrf": csrf, "yaml": edited},
                                 allow_redirects=False) as saved:
                status = saved.status
            async with http.get(f"{url}/admin/rules/nothing.yml") as missing:
                return shown, status, admin_app.ctx.admin.draft.read("core/data/safeguards.yml"), missing.status

    shown, status, draft, missing = asyncio.run(scenario())
    assert "识别规则" in shown and "real_96110" in shown
    assert status == 303 and "12381|一二三八一" in draft
    assert missing == 404
