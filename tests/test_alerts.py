"""Alerts: roster, fan-out, expiry, recall and the outbox worker, against the fake Telegram and WeCom APIs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from telegram import Bot

from bot.alerts.model import outbox
from bot.alerts.service import AlertService, InvalidAlert, Refused
from bot.alerts.worker import OutboxWorker
from bot.processes import free_port, spawn, stop, wait_http
from bot.senders.telegram import TelegramGroupSender, alerts_bot
from bot.senders.wechat import WeComRobotSender
from bot.store import now
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def service(store: str) -> AlertService:
    return AlertService(store)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeWeChat]]:
    telegram, wechat = FakeTelegram().start(), FakeWeChat().start()
    yield telegram, wechat
    telegram.stop()
    wechat.stop()


def add_targets(service: AlertService, telegram_groups: int, robots: int, region: str = "朝阳区") -> None:
    for i in range(telegram_groups):
        service.registry.record("telegram", str(-1000000 - i), f"小区群{i}", region)
    for i in range(robots):
        service.registry.record("wecom_robot", f"robot-{i}", f"网格群{i}", region)


def officer(service: AlertService, login: str = "zhang") -> object:
    service.add_officer("张警官", "officer", telegram_id="4242", login=login)
    return service.authorize("login", login)


def states(service: AlertService, alert_id: int) -> Counter:
    with service.engine.connect() as db:
        return Counter(row.state for row in db.execute(outbox.select().where(outbox.c.alert_id == alert_id)))


# -- roster and validation ---------------------------------------------------------------------


def test_unauthorised_senders_are_refused_and_logged(service: AlertService) -> None:
    officer(service)
    with pytest.raises(Refused):
        service.authorize("telegram", "999")
    with pytest.raises(Refused):
        service.authorize("login", "zhang", admin=True)
    assert service.authorize("telegram", "4242").name == "张警官"
    refused = [row for row in service.audit() if row["action"] == "refused"]
    assert [row["actor"] for row in refused] == ["login:zhang", "telegram:999"]


@pytest.mark.parametrize("title,body,scenario,regions", [
    ("", "正文", "none", "朝阳区"), ("标题", " ", "none", "朝阳区"),
    ("标题", "正文", "no_such_scam", "朝阳区"), ("标题", "正文", "none", ""),
])
def test_invalid_alerts_are_rejected(service: AlertService, title: str, body: str, scenario: str,
                                     regions: str) -> None:
    with pytest.raises(InvalidAlert):
        service.create(officer(service), title, body, regions, scenario)


def test_fan_out_follows_regions(service: AlertService) -> None:
    add_targets(service, 3, 2, "朝阳区")
    service.registry.record("telegram", "-555", "海淀群", "海淀区")
    service.registry.record("telegram", "-556", "已退出的群", "朝阳区")
    service.registry.retire("telegram", "-556")
    who = officer(service)
    assert sum(states(service, service.create(who, "t", "b", "朝阳区")).values()) == 5
    assert sum(states(service, service.create(who, "t", "b", "海淀区,朝阳区")).values()) == 6
    assert sum(states(service, service.create(who, "t", "b", "全部")).values()) == 6


# -- delivery ----------------------------------------------------------------------------------


def worker_for(service: AlertService, telegram: FakeTelegram, wechat: FakeWeChat, per_second: float = 1000,
               ) -> tuple[OutboxWorker, Bot]:
    bot = alerts_bot("123456:TEST", telegram.base_url)
    senders = {"telegram": TelegramGroupSender(bot, overall_per_second=per_second),
               "wecom_robot": WeComRobotSender(wechat.base_url)}
    return OutboxWorker(service, senders, backoff=0.05), bot


async def drain(worker: OutboxWorker, bot: Bot) -> None:
    await bot.initialize()
    await worker.run(until_idle=True, poll=0.05)
    await bot.shutdown()


def test_thousand_targets_each_get_exactly_one_message(service: AlertService,
                                                       fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    """Refusals (429) are waited out and sent again; a 5xx answer may hide a delivery: uncertain, never resent."""
    telegram, wechat = fakes
    telegram.flaky_rate = wechat.flaky_rate = 0.05
    telegram.fail_next("sendMessage", 429, times=3, retry_after=1)
    add_targets(service, 600, 400)
    body = "近期有人冒充公安要求转账到“安全账户”。"
    alert_id = service.create(officer(service), "冒充公检法诈骗高发", body, "朝阳区", "impersonate_police")
    worker, bot = worker_for(service, telegram, wechat)
    asyncio.run(drain(worker, bot))

    telegram_calls = [c for c in telegram.calls if c.method == "sendMessage"]
    bad_gateways = sum(1 for c in telegram_calls if c.status == 502)
    busy = sum(1 for c in wechat.of("webhook/send", ok_only=False) if c.status == 503)
    assert sum(1 for c in telegram_calls if c.status == 429) == 3
    assert bad_gateways and busy  # the flaky answers did happen
    final = states(service, alert_id)
    assert final == Counter({"delivered": 1000 - bad_gateways - busy, "uncertain": bad_gateways + busy})
    per_group = Counter(int(c.params["chat_id"]) for c in telegram.sent())
    per_robot = Counter(c.query["key"] for c in wechat.of("webhook/send"))
    assert set(per_group.values()) == {1} and set(per_robot.values()) == {1}  # never twice
    assert len(per_group) + len(per_robot) == final["delivered"]
    assert len({int(c.params["chat_id"]) for c in telegram_calls}) == 600  # every group was tried
    assert "【警情通报】冒充公检法诈骗高发" in telegram.sent()[0].params["text"]
    report = service.status(alert_id)
    assert report["channels"]["telegram"]["delivered"] == 600 - bad_gateways
    assert {p["last_error"].split(":")[0] for p in report["problems"]} == {"uncertain"}


def test_expired_alert_is_not_sent(service: AlertService, fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    telegram, wechat = fakes
    add_targets(service, 5, 0)
    alert_id = service.create(officer(service), "t", "b", "朝阳区", expires_at=now() + timedelta(seconds=1))
    time.sleep(1.2)
    worker, bot = worker_for(service, telegram, wechat)
    asyncio.run(drain(worker, bot))
    assert states(service, alert_id) == Counter({"cancelled": 5})
    assert telegram.sent() == []
    assert service.status(alert_id)["expired"]


def test_gone_targets_fail_once_and_become_inactive(service: AlertService,
                                                     fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    telegram, wechat = fakes
    add_targets(service, 1, 1)
    wechat.fail_next("webhook/send", 200, errcode=93000, errmsg="invalid webhook url")
    telegram.fail_next("sendMessage", 403)
    alert_id = service.create(officer(service), "t", "b", "朝阳区")
    worker, bot = worker_for(service, telegram, wechat)
    asyncio.run(drain(worker, bot))
    assert states(service, alert_id) == Counter({"failed": 2})
    assert service.registry.active() == []
    reasons = {p["channel"]: p["last_error"] for p in service.status(alert_id)["problems"]}
    assert reasons["wecom_robot"].startswith("target gone: 93000")


def test_persistent_errors_give_up_with_the_reason(service: AlertService,
                                                    fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    telegram, wechat = fakes
    add_targets(service, 0, 1)
    wechat.fail_next("webhook/send", 200, times=20, errcode=45009, errmsg="api freq out of limit")
    alert_id = service.create(officer(service), "t", "b", "朝阳区")
    worker, bot = worker_for(service, telegram, wechat)
    asyncio.run(drain(worker, bot))
    assert states(service, alert_id) == Counter({"failed": 1})
    assert "after 6 attempts" in service.status(alert_id)["problems"][0]["last_error"]
    assert len(wechat.of("webhook/send", ok_only=False)) == 6


def test_no_answer_is_uncertain_and_never_resent(service: AlertService,
                                                fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    """A Telegram message whose answer never came and a robot's 5xx: recorded uncertain, sent once."""
    telegram, wechat = fakes
    add_targets(service, 2, 1)
    telegram.answer_late(1)
    wechat.fail_next("webhook/send", 503)
    alert_id = service.create(officer(service), "t", "b", "朝阳区")
    bot = alerts_bot("123456:TEST", telegram.base_url, read_timeout=0.5)
    worker = OutboxWorker(service, {"telegram": TelegramGroupSender(bot, overall_per_second=1000),
                                    "wecom_robot": WeComRobotSender(wechat.base_url)}, backoff=0.05)
    try:
        asyncio.run(drain(worker, bot))
    finally:
        telegram.release()
    assert states(service, alert_id) == Counter({"delivered": 1, "uncertain": 2})
    assert len(telegram.sent()) == 2 and telegram.count("sendMessage") == 2  # both arrived, none twice
    assert len(wechat.of("webhook/send", ok_only=False)) == 1
    problems = service.status(alert_id)["problems"]
    assert all(p["state"] == "uncertain" and p["last_error"].startswith("uncertain:") for p in problems)


def test_recall_stops_pending_and_deletes_telegram_messages(service: AlertService,
                                                            fakes: tuple[FakeTelegram, FakeWeChat]) -> None:
    telegram, wechat = fakes
    add_targets(service, 3, 0)
    who = officer(service)
    sent_id = service.create(who, "t", "b", "朝阳区")
    worker, bot = worker_for(service, telegram, wechat)
    asyncio.run(drain(worker, bot))
    queued_id = service.create(who, "t2", "b2", "朝阳区")
    service.recall(who, queued_id)
    service.recall(who, sent_id)

    asyncio.run(drain(worker, bot))  # the worker's next round deletes what was recalled
    assert telegram.count("deleteMessage") == 3
    assert states(service, queued_id) == Counter({"cancelled": 3})
    assert service.status(sent_id)["recalled"]


def test_killed_mid_send_and_restarted_never_sends_twice(store: str, service: AlertService,
                                                         fakes: tuple[FakeTelegram, FakeWeChat],
                                                         tmp_path: Path) -> None:
    """SIGKILL in the middle of a fan-out; a restart finishes it without a duplicate.

    A request that was on the wire at the kill may or may not have arrived; those rows (at
    most the worker's concurrency) are reported ``uncertain`` instead of being sent again.
    """
    telegram, wechat = fakes
    add_targets(service, 700, 300)
    alert_id = service.create(officer(service), "刷单返利诈骗预警", "刷单就是诈骗。", "朝阳区", "task_rebate")
    env = {**os.environ, "FRAUDBOT_DB_URL": store, "TELEGRAM_BOT_TOKEN": "123456:TEST",
           "TELEGRAM_API_BASE_URL": telegram.base_url, "WECOM_API_BASE_URL": wechat.base_url,
           "FRAUDBOT_TELEGRAM_PER_SECOND": "100"}
    command = [sys.executable, "-m", "bot.cli", "alert", "worker", "--until-idle"]
    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert telegram.wait_for(lambda: len(telegram.sent()) >= 250, 60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    delivered_before = len(telegram.sent()) + len(wechat.of("webhook/send"))
    assert delivered_before < 1000  # really killed in the middle

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]

    per_target = Counter(int(c.params["chat_id"]) for c in telegram.sent())
    per_target.update(c.query["key"] for c in wechat.of("webhook/send"))
    assert max(per_target.values()) == 1  # never twice
    final = states(service, alert_id)
    assert final["delivered"] + final["uncertain"] == 1000
    assert final["uncertain"] <= 8
    assert len(per_target) >= final["delivered"]
    assert set(service.status(alert_id)["channels"]) == {"telegram", "wecom_robot"}


# -- HTTP API ----------------------------------------------------------------------------------


@pytest.fixture
def api(store: str, service: AlertService) -> Iterator[str]:
    service.add_officer("李警官", "admin", login="li")
    service.add_officer("赵警官", "officer", login="zhao")
    service.add_officer("钱警官", "officer", login="qian")
    add_targets(service, 2, 1)
    port = free_port()
    env = {**os.environ, "FRAUDBOT_DB_URL": store, "FRAUDBOT_API_TOKEN": "api-secret"}
    process = spawn("bot.cli", "alert", "api", "--port", str(port), env=env, quiet=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/alerts/1", 60, process, any_status=True)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def call(method: str, url: str, body: object = None, token: str | None = "api-secret",
         officer_login: str = "li", raw: bytes | None = None, authorization: str | None = None,
         ) -> tuple[int, object]:
    """One request; the answer's status and JSON body (every answer of the API is JSON)."""
    import json
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "X-Officer": officer_login}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_http_api(api: str) -> None:
    alert = {"title": "虚假征信诈骗预警", "body": "没有人能花钱修复征信。", "regions": "朝阳区",
             "scenario": "credit_repair"}
    assert call("POST", f"{api}/alerts", alert, token=None)[0] == 401
    assert call("POST", f"{api}/alerts", alert, token="wrong")[0] == 401
    assert call("POST", f"{api}/alerts", alert, officer_login="nobody")[0] == 403
    assert call("POST", f"{api}/alerts", {**alert, "scenario": "bogus"})[0] == 400
    status, created = call("POST", f"{api}/alerts", alert)
    assert status == 201 and created["targets"] == 3
    status, report = call("GET", f"{api}/alerts/{created['id']}")
    assert status == 200 and report["channels"] == {"telegram": {"pending": 2}, "wecom_robot": {"pending": 1}}
    assert call("POST", f"{api}/alerts/{created['id']}/recall")[0] == 200
    assert call("GET", f"{api}/alerts/{created['id']}")[1]["recalled"] is True
    assert call("GET", f"{api}/alerts/999")[0] == 404
    status, audit = call("GET", f"{api}/audit")
    assert status == 200 and {row["action"] for row in audit} >= {"alert_sent", "alert_recalled", "refused"}


GOOD_ALERT = {"title": "虚假征信诈骗预警", "body": "没有人能花钱修复征信。", "regions": "朝阳区"}


@pytest.mark.parametrize("raw", [
    b"{not json", b"\xff\xfe", b"[" * 20000 + b"]" * 20000, b"null", b"[1, 2]", b'"title"',
    b'{"title": 1, "body": "b", "regions": "r"}', b'{"title": "t", "body": ["b"], "regions": "r"}',
    b'{"title": "t", "body": "b", "regions": [1]}', b'{"title": "t", "body": "b", "regions": {"a": 1}}',
    b'{"title": "t", "body": "b"}', b'{"body": "b", "regions": "r"}', b'{"title": "t", "body": "b", "regions": ""}',
    b'{"title": "t", "body": "b", "regions": "r", "scenario": null}',
    b'{"title": "t", "body": "b", "regions": "r", "severity": 3}',
    b'{"title": "t", "body": "b", "regions": "r", "alert": "x"}',
    b'{"title": "' + "长".encode() * 300 + b'", "body": "b", "regions": "r"}',
])
def test_http_api_answers_malformed_alerts_with_400(api: str, raw: bytes) -> None:
    status, answer = call("POST", f"{api}/alerts", raw=raw)
    assert status == 400 and isinstance(answer, dict) and answer["error"]


@pytest.mark.parametrize("hours", ["0", "-1", "-0.5", '"72"', "true", "null", "1e308", "1e999", "1" + "0" * 400])
def test_http_api_refuses_expiry_that_is_not_a_positive_number(api: str, hours: str) -> None:
    raw = f'{{"title": "t", "body": "b", "regions": "朝阳区", "expires_hours": {hours}}}'.encode()
    status, answer = call("POST", f"{api}/alerts", raw=raw)
    assert status == 400 and ("有效期" in answer["error"] or "类型" in answer["error"])


def test_http_api_survives_surrogates_huge_bodies_and_huge_numbers(api: str) -> None:
    raw = rb'{"title": "\ud800t", "body": "b\udfff", "regions": ["\ud800\u671d\u9633\u533a", "\u671d\u9633\u533a"]}'
    status, created = call("POST", f"{api}/alerts", raw=raw)
    assert status == 201 and created["targets"] == 3
    status, answer = call("POST", f"{api}/alerts", raw=b'{"title": "' + b"x" * 200_000 + b'"}')
    assert status == 413 and "太大" in answer["error"]
    assert call("GET", f"{api}/audit?limit=abc")[0] == 400
    assert call("GET", f"{api}/audit?limit=" + "9" * 5000)[0] == 400
    assert call("GET", f"{api}/alerts/99999999999999999999999")[0] == 404
    assert call("POST", f"{api}/alerts/99999999999999999999999/recall")[0] == 404
    status, answer = call("GET", f"{api}/no-such-page")
    assert status == 404 and answer["error"]


@pytest.mark.parametrize("authorization", ["api-secret", "bearer api-secret", "Bearer  api-secret", "Bearer",
                                           "Basic api-secret", "Bearer api-secret2", "Bearer api-secre", ""])
def test_http_api_requires_exactly_a_bearer_token(api: str, authorization: str) -> None:
    status, answer = call("POST", f"{api}/alerts", GOOD_ALERT, token=None, authorization=authorization)
    assert status == 401 and "Bearer" in answer["error"]


def test_only_the_sender_or_an_admin_may_recall(api: str) -> None:
    status, created = call("POST", f"{api}/alerts", GOOD_ALERT, officer_login="zhao")
    assert status == 201
    recall = f"{api}/alerts/{created['id']}/recall"
    status, answer = call("POST", recall, officer_login="qian")
    assert status == 403 and "发布这条通报的民警或管理员" in answer["error"]
    assert call("GET", f"{api}/alerts/{created['id']}")[1]["recalled"] is False
    assert call("POST", recall, officer_login="zhao")[0] == 200  # the sender
    status, created = call("POST", f"{api}/alerts", GOOD_ALERT, officer_login="zhao")
    assert call("POST", f"{api}/alerts/{created['id']}/recall", officer_login="li")[0] == 200  # an admin
    refused = [row for row in call("GET", f"{api}/audit")[1] if row["action"] == "refused"]
    assert any("recall of #" in row["detail"] and "钱警官" in row["actor"] for row in refused)


def test_recall_rule_in_the_service(service: AlertService) -> None:
    add_targets(service, 1, 0)
    sender = officer(service)
    service.add_officer("孙警官", "officer", login="sun")
    service.add_officer("周主任", "admin", login="zhou")
    alert_id = service.create(sender, "t", "b", "朝阳区")
    with pytest.raises(Refused):
        service.recall(service.authorize("login", "sun"), alert_id)
    assert states(service, alert_id) == Counter({"pending": 1})
    service.recall(service.authorize("login", "zhou"), alert_id)
    assert states(service, alert_id) == Counter({"cancelled": 1})


@pytest.mark.parametrize("hours", [0, -3, float("nan"), float("inf"), 24 * 366, "72", True, None])
def test_expiry_must_be_a_positive_number_of_hours(service: AlertService, hours: object) -> None:
    with pytest.raises(InvalidAlert):
        service.expires_in(hours)


def test_command_line(store: str, tmp_path: Path) -> None:
    env = {**os.environ, "FRAUDBOT_DB_URL": store}

    def fraudbot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    assert fraudbot("officer", "王警官", "--login", "wang").returncode == 0
    assert fraudbot("target", "add", "wecom_robot", "key-9", "--name", "网格9群", "--region", "海淀区").returncode == 0
    assert "key-9" in fraudbot("target", "list").stdout
    body = tmp_path / "notice.txt"
    body.write_text("近期有人冒充客服以退款为名诈骗。", encoding="utf-8")
    refused = fraudbot("alert", "send", "--officer", "nobody", "--title", "t", "--body-file", str(body),
                       "--region", "海淀区")
    assert refused.returncode == 2 and "只有登记过的民警" in refused.stderr
    sent = fraudbot("alert", "send", "--officer", "wang", "--title", "冒充客服", "--body-file", str(body),
                    "--region", "海淀区", "--scenario", "fake_customer_service")
    assert sent.returncode == 0 and "queued for 1 targets" in sent.stdout
    assert '"pending": 1' in fraudbot("alert", "status", "1").stdout
    for hours in ("0", "-1"):
        refused = fraudbot("alert", "send", "--officer", "wang", "--title", "t", "--body-file", str(body),
                           "--region", "海淀区", "--expires-hours", hours)
        assert refused.returncode == 2 and "有效期" in refused.stderr
    assert fraudbot("officer", "冯警官", "--login", "feng").returncode == 0
    refused = fraudbot("alert", "recall", "1", "--officer", "feng")
    assert refused.returncode == 2 and "发布这条通报的民警或管理员" in refused.stderr
    assert fraudbot("alert", "recall", "1", "--officer", "wang").returncode == 0
    audit = fraudbot("alert", "audit").stdout
    assert "alert_sent" in audit and "alert_recalled" in audit and "login:nobody" in audit
