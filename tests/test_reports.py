"""Residents' 举报 and verdict feedback in the store, and the officers' review queue (bot/reports.py, bot/review.py).

Every test runs on SQLite and on a real PostgreSQL (``bot.fleet.Postgres``, a fresh database upgraded by
the migrations per test; those variants are marked ``fleet``). Time is moved by :class:`Clock`: the two
modules and :mod:`bot.known` read the time through the name ``now`` they import from :mod:`bot.store`, so
replacing that name in those three modules moves every timestamp they write and compare (rate limits,
the duplicate window, decisions) while the rest of the process, the database server included, keeps the
real clock. No code path gains a parameter that only tests would use.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from bot import known, migrations, reports, review, scam_library
from bot.alerts.model import audit_log
from bot.fleet import Postgres
from bot.privacy import hash_id
from bot.store import engine
from nlu.entities import find_entities

START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
SCAM_NUMBER = "13900002222"

# One reported SMS and copies of it as residents forward them: other digits, another link, another name,
# other punctuation and spacing. Each carries its link as an indicator, as the NLU finds it.
SMS = ("【ETC服务】尊敬的车主张伟您好，您的ETC认证已于11月28日过期，即日起将无法正常通行高速，"
       "请于今日24点前点击 http://etc-rz.top/a8 重新认证，逾期账户将被冻结。")
COPIES = [
    SMS.replace("11月28日", "12月02日").replace("24点", "18点"),
    SMS.replace("http://etc-rz.top/a8", "https://etc-renzheng.vip/x?id=91"),
    SMS.replace("张伟", "李秀英"),
    SMS.replace("，", " ").replace("。", "!").replace("【", "[").replace("】", "]"),
]
GENUINE = ("【国家电网】尊敬的客户您好，您户号所在区域将于本周六上午8点至12点计划停电检修，"
           "请提前做好准备，给您带来不便敬请谅解。")


def nlu_entities(message: str) -> list[dict[str, str]]:
    """The entities the NLU's rules find in ``message``, as the channels pass them on."""
    return [{"entity": found.label, "value": found.value} for found in find_entities(message)]


@dataclass
class Clock:
    """The time the report modules read; moved by hand."""

    moment: datetime = START

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    for module in (reports, review, known):
        monkeypatch.setattr(module, "now", moved)
    return moved



_DATABASES = itertools.count(1)


def postgres_store(server: Postgres) -> str:
    url = server.create_database(f"reports_{next(_DATABASES)}")
    migrations.upgrade(url)  # a PostgreSQL store is only checked on first use, never upgraded by it
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.fleet, id="fleet-postgres")])
def store_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty store at the newest revision: a SQLite file, or a database of the module's PostgreSQL."""
    if request.param == "postgres":
        yield postgres_store(request.getfixturevalue("postgres"))
        return
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    try:
        yield f"sqlite:///{folder / 'store.db'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rows(url: str, table: object) -> list[dict[str, object]]:
    with engine(url).connect() as db:
        return [dict(row._mapping) for row in db.execute(select(table).order_by(table.c.id))]  # type: ignore[attr-defined]


def utc(moment: datetime | None) -> datetime | None:
    """A stored time as PostgreSQL returns it: SQLite keeps the UTC time without its zone."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def indicator(url: str, kind: str, value: str) -> known.Indicator | None:
    found = [item for item in known.listing(url, limit=10_000) if (item.kind, item.value) == (kind, value)]
    assert len(found) <= 1
    return found[0] if found else None


def report_number(url: str, sender: str, number: str, channel: str = "rest") -> reports.ReportOutcome:
    """A short 举报 of one number: too short to be compared as a text, so it is only the indicator's."""
    return reports.submit_report(sender, channel, f"举报这个号码 {number}", [{"entity": "phone", "value": number}],
                                 url=url)


# -- reports: counted once per sender, de-duplicated ----------------------------------------------------

def test_a_report_counts_each_indicator_once_per_sender_and_spellings_land_on_one(store_url: str,
                                                                                  clock: Clock) -> None:
    message = "刚才+86 139-0000-2222打电话说我快递丢了，让我点 http://www.Etc-RZ.top/a 登记理赔"
    first = reports.submit_report("resident-a", "telegram", message, nlu_entities(message), region="朝阳区",
                                  url=store_url)
    assert first.status == reports.RECORDED and first.counted
    assert {(i.kind, i.value, i.report_count) for i in first.indicators} == {
        ("phone", SCAM_NUMBER, 1), ("domain", "etc-rz.top", 1)}

    clock.advance(days=3)
    again = report_number(store_url, "resident-a", "139-0000-2222", channel="telegram")
    assert again.status == reports.DUPLICATE and not again.counted
    assert [(i.value, i.report_count) for i in again.indicators] == [(SCAM_NUMBER, 1)]

    other_channel = report_number(store_url, "resident-a", SCAM_NUMBER, channel="wechat")  # another door: another key
    other_sender = report_number(store_url, "resident-b", "0086 13900002222", channel="telegram")
    assert other_channel.status == other_sender.status == reports.RECORDED
    phone = indicator(store_url, "phone", SCAM_NUMBER)
    assert phone is not None and phone.report_count == 3 and phone.state == known.REPORTED
    assert phone.first_seen == START and phone.last_seen == START + timedelta(days=3)
    assert [i.value for i in known.listing(store_url) if i.kind == "phone"] == [SCAM_NUMBER]  # one row, every spelling

    clock.advance(days=reports.DUPLICATE_WINDOW.days)  # the first report is outside the window now
    assert report_number(store_url, "resident-a", "+8613900002222", channel="telegram").status == reports.RECORDED
    assert indicator(store_url, "phone", SCAM_NUMBER).report_count == 4  # type: ignore[union-attr]
    stored = rows(store_url, reports.reports)
    assert [(row["kind"], row["value"]) for row in stored] == [
        ("phone", SCAM_NUMBER), ("domain", "etc-rz.top"), ("phone", SCAM_NUMBER), ("phone", SCAM_NUMBER),
        ("phone", SCAM_NUMBER)]
    assert stored[0]["region"] == "朝阳区" and stored[0]["channel"] == "telegram" and stored[0]["state"] == reports.OPEN


def test_a_confirmed_indicator_stays_confirmed_when_residents_report_it(store_url: str, clock: Clock) -> None:
    known.confirm("phone", SCAM_NUMBER, officer="王警官", url=store_url)
    clock.advance(hours=2)
    outcome = report_number(store_url, "resident-a", "+86 139 0000 2222")
    assert outcome.status == reports.RECORDED
    (stored,) = outcome.indicators
    assert (stored.state, stored.report_count, stored.confirmed_by) == (known.CONFIRMED, 1, "王警官")
    assert stored.confirmed_at == START and stored.last_seen == START + timedelta(hours=2)
    assert review.indicator_groups(store_url) == []  # nothing for an officer to decide


def test_a_message_too_short_and_without_indicators_is_not_kept(store_url: str, clock: Clock) -> None:
    assert reports.submit_report("resident-a", "rest", "举报 骗子！！", [], url=store_url).status == reports.NOTHING
    assert reports.submit_report("resident-a", "rest", "  ", [], url=store_url).status == reports.NOTHING
    # a number that is no indicator (a bank's service line) does not make a short message worth keeping
    assert reports.submit_report("resident-a", "rest", "举报95588", [{"entity": "phone", "value": "95588"}],
                                 url=store_url).status == reports.NOTHING
    assert rows(store_url, reports.reports) == [] and known.listing(store_url) == []

    kept = reports.submit_report("resident-a", "rest", GENUINE, [], url=store_url)
    assert kept.status == reports.RECORDED and kept.indicators == []
    assert reports.submit_report("resident-a", "rest", GENUINE + " ", [], url=store_url).status == reports.DUPLICATE
    assert [(row["kind"], row["text"]) for row in rows(store_url, reports.reports)] == [(None, GENUINE)]


# -- rate limits ---------------------------------------------------------------------------------------

def test_reports_are_limited_per_hour_then_per_day(store_url: str, clock: Clock) -> None:
    numbers = (f"1391234{n:04d}" for n in itertools.count())

    def recorded_this_hour() -> list[str]:
        statuses = []
        for _ in range(reports.REPORTS_PER_HOUR):
            statuses.append(report_number(store_url, "flooder", next(numbers)).status)
            clock.advance(minutes=1)
        return statuses

    assert recorded_this_hour() == [reports.RECORDED] * reports.REPORTS_PER_HOUR
    refused = next(numbers)
    assert report_number(store_url, "flooder", refused).status == reports.LIMITED
    assert indicator(store_url, "phone", refused) is None  # nothing written for a refused report
    assert report_number(store_url, "someone-else", refused).status == reports.RECORDED  # the limit is per sender

    hours = reports.REPORTS_PER_DAY // reports.REPORTS_PER_HOUR
    for _ in range(hours - 1):
        clock.advance(hours=1)
        assert recorded_this_hour() == [reports.RECORDED] * reports.REPORTS_PER_HOUR
    clock.advance(hours=1)  # a new hour, but the day's reports are used up
    assert report_number(store_url, "flooder", next(numbers)).status == reports.LIMITED
    flooder = reports.reporter_key("rest", "flooder")
    assert sum(row["reporter"] == flooder for row in rows(store_url, reports.reports)) == reports.REPORTS_PER_DAY

    clock.moment = START + timedelta(days=1, minutes=1, seconds=30)  # the first two reports are a day old now
    assert report_number(store_url, "flooder", next(numbers)).status == reports.RECORDED
    assert report_number(store_url, "flooder", next(numbers)).status == reports.RECORDED
    assert report_number(store_url, "flooder", next(numbers)).status == reports.LIMITED


# -- feedback ------------------------------------------------------------------------------------------

def feedback_rows(url: str) -> list[dict[str, object]]:
    return rows(url, reports.feedback)


def test_feedback_on_one_message_is_one_row_that_the_later_word_updates(store_url: str, clock: Clock) -> None:
    message, answer = "有人说是快递客服，包裹丢了要给我理赔", "需警惕：听起来像「冒充电商物流客服」的套路……"
    said = dict(text=message, answer=answer, scenario="fake_customer_service", risk="medium", url=store_url)
    assert reports.submit_feedback("resident-a", "telegram", reports.USEFUL, **said) == reports.RECORDED
    assert [(r["verdict"], r["state"]) for r in feedback_rows(store_url)] == [(reports.USEFUL, reports.CLOSED)]

    clock.advance(minutes=1)
    assert reports.submit_feedback("resident-a", "telegram", reports.WRONG, **said) == reports.RECORDED
    (row,) = feedback_rows(store_url)
    assert (row["verdict"], row["claim"], row["state"]) == (reports.WRONG, None, reports.OPEN)
    assert reports.submit_feedback("resident-a", "telegram", reports.WRONG, **said) == reports.DUPLICATE

    # the claim arrives with the button's answer only: what the bot said is kept from the 判断不对
    clock.advance(minutes=1)
    assert reports.submit_feedback("resident-a", "telegram", reports.WRONG, message, "", claim="not_scam",
                                   url=store_url) == reports.RECORDED
    (row,) = feedback_rows(store_url)
    assert (row["verdict"], row["claim"], row["state"]) == (reports.WRONG, "not_scam", reports.OPEN)
    assert (row["answer"], row["scenario"], row["risk"]) == (answer, "fake_customer_service", "medium")
    assert reports.feedback_row(int(row["id"]), store_url) == row  # type: ignore[arg-type]
    # pressing 判断不对 once more does not forget the claim; another claim replaces it
    assert reports.submit_feedback("resident-a", "telegram", reports.WRONG, **said) == reports.DUPLICATE
    assert reports.submit_feedback("resident-a", "telegram", reports.WRONG, **said, claim="wrong_type") \
        == reports.RECORDED
    assert [r["claim"] for r in feedback_rows(store_url)] == ["wrong_type"]

    # another resident's word on the same message is their own row
    assert reports.submit_feedback("resident-b", "telegram", reports.WRONG, **said, claim="scam") == reports.RECORDED
    assert [r["claim"] for r in feedback_rows(store_url)] == ["wrong_type", "scam"]

    with pytest.raises(ValueError):
        reports.submit_feedback("resident-a", "telegram", "meh", **said)
    with pytest.raises(ValueError):
        reports.submit_feedback("resident-a", "telegram", reports.WRONG, **said, claim="whatever")


def test_feedback_is_limited_per_day(store_url: str, clock: Clock) -> None:
    for n in range(reports.FEEDBACK_PER_DAY):
        assert reports.submit_feedback("busy", "rest", reports.USEFUL, f"第{n}条：有人让我下载APP做任务返利", "高风险",
                                       url=store_url) == reports.RECORDED
        clock.advance(minutes=10)
    assert reports.submit_feedback("busy", "rest", reports.USEFUL, "再来一条：有人让我下载APP做任务返利", "高风险",
                                   url=store_url) == reports.LIMITED
    # changing one's mind about a message already kept is no new row: still taken
    assert reports.submit_feedback("busy", "rest", reports.WRONG, "第29条：有人让我下载APP做任务返利", "高风险",
                                   url=store_url) == reports.RECORDED
    assert len(feedback_rows(store_url)) == reports.FEEDBACK_PER_DAY
    clock.moment = START + timedelta(days=1, minutes=30)  # the first three are more than a day old
    assert reports.submit_feedback("busy", "rest", reports.USEFUL, "第二天：有人让我下载APP做任务返利", "高风险",
                                   url=store_url) == reports.RECORDED


# -- the review queue: groups --------------------------------------------------------------------------

def test_copies_of_one_reported_sms_are_one_group_and_a_genuine_message_its_own(store_url: str,
                                                                                clock: Clock) -> None:
    for n, copy in enumerate([SMS, *COPIES]):
        assert reports.submit_report(f"resident-{n}", "wechat", copy, nlu_entities(copy),
                                     url=store_url).status == reports.RECORDED
        clock.advance(minutes=5)
    # a resident who forwards the same SMS again with a new link counts once in the group
    resent = SMS.replace("etc-rz.top/a8", "etc-rz2.top/b")
    assert reports.submit_report("resident-0", "wechat", resent, nlu_entities(resent),
                                 url=store_url).status == reports.RECORDED
    clock.advance(minutes=5)
    assert reports.submit_report("resident-9", "rest", GENUINE, [], url=store_url).status == reports.RECORDED

    groups = review.report_text_groups(store_url)
    assert [group.count for group in groups] == [len(COPIES) + 1, 1]
    copies, genuine = groups
    assert len(copies.ids) == len(COPIES) + 2 and copies.sample == resent  # every row, the newest shown
    assert copies.last == START + timedelta(minutes=25)
    assert genuine.sample == GENUINE and genuine.count == 1
    # each link is an indicator of its own, decided on its own
    assert sorted(group.value for group in review.indicator_groups(store_url)) == [
        "etc-renzheng.vip", "etc-rz.top", "etc-rz2.top"]
    assert review.open_counts(store_url) == {"indicators": 3, "texts": len(COPIES) + 2, "disputes": 0}


def test_disputes_are_grouped_with_what_residents_claimed(store_url: str, clock: Clock) -> None:
    claims = ["not_scam", "not_scam", "wrong_type", None]
    for n, (copy, claim) in enumerate(zip(COPIES, claims, strict=True)):
        assert reports.submit_feedback(f"resident-{n}", "telegram", reports.WRONG, copy, f"高风险…第{n}次回答",
                                       scenario="phishing_link", risk="high", claim=claim,
                                       url=store_url) == reports.RECORDED
        clock.advance(minutes=1)
    reports.submit_feedback("resident-7", "telegram", reports.WRONG, GENUINE, "需警惕", scenario="fake_notice",
                            risk="medium", claim="not_scam", url=store_url)
    reports.submit_feedback("resident-8", "telegram", reports.USEFUL, SMS, "高风险", url=store_url)  # no review

    copies, genuine = review.dispute_groups(store_url)
    assert copies.count == len(COPIES) and genuine.count == 1
    assert copies.claims == Counter({"not_scam": 2, "wrong_type": 1, "unanswered": 1})
    assert copies.scenarios == Counter({"phishing_link": len(COPIES)})
    assert copies.answer == "高风险…第3次回答"  # the latest
    assert genuine.claims == Counter({"not_scam": 1}) and genuine.sample == GENUINE
    assert review.open_counts(store_url)["disputes"] == len(COPIES) + 1


# -- the review queue: decisions -----------------------------------------------------------------------

def audit_rows(url: str) -> list[tuple[str, str, dict[str, object]]]:
    return [(row["actor"], row["action"], json.loads(str(row["detail"]))) for row in rows(url, audit_log)]


def test_indicator_decisions_change_the_indicator_and_are_audited(store_url: str, clock: Clock) -> None:
    for n, number in enumerate(["13900002222", "13900003333", "13900004444"]):
        for sender in range(n + 1):
            report_number(store_url, f"resident-{sender}", number)
    assert [group.value for group in review.indicator_groups(store_url)] == [
        "13900004444", "13900003333", "13900002222"]  # the most reported first
    assert review.indicator_groups(store_url)[0].sample.startswith("举报这个号码 139")

    clock.advance(hours=1)
    confirmed = review.decide_indicator("王警官", "confirm", "phone", "+86 139-0000-4444", url=store_url,
                                        expires_in=timedelta(days=90), note="多名居民举报")
    assert (confirmed.state, confirmed.confirmed_by, confirmed.report_count) == (known.CONFIRMED, "王警官", 3)
    assert confirmed.confirmed_at == START + timedelta(hours=1)
    assert confirmed.expires_at == START + timedelta(hours=1, days=90)
    rejected = review.decide_indicator("李警官", "reject", "phone", "13900003333", url=store_url, note="快递公司号码")
    assert (rejected.state, rejected.note) == (known.REJECTED, "快递公司号码")
    clock.advance(days=1)
    expired = review.decide_indicator("王警官", "expire", "phone", "13900004444", url=store_url)
    assert expired.state == known.EXPIRED and expired.expires_at == START + timedelta(days=1, hours=1)

    assert audit_rows(store_url) == [
        ("王警官", "indicator_confirm", {"kind": "phone", "value": "13900004444", "reports": 3,
                                        "expires_at": (START + timedelta(hours=1, days=90)).isoformat()}),
        ("李警官", "indicator_reject", {"kind": "phone", "value": "13900003333", "reports": 2, "expires_at": None}),
        ("王警官", "indicator_expire", {"kind": "phone", "value": "13900004444", "reports": 3,
                                       "expires_at": (START + timedelta(days=1, hours=1)).isoformat()})]
    assert [group.value for group in review.indicator_groups(store_url)] == ["13900002222"]  # decided rows left
    assert known.lookup([("phone", "13900004444"), ("phone", "13900003333")], store_url) == []
    with pytest.raises(ValueError):
        review.decide_indicator("王警官", "approve", "phone", SCAM_NUMBER, url=store_url)
    with pytest.raises(ValueError):
        review.decide_indicator("  ", "confirm", "phone", SCAM_NUMBER, url=store_url)
    assert len(audit_rows(store_url)) == 3 and review.indicator_groups(store_url)[0].state == known.REPORTED


def refuse_audit_rows(url: str) -> None:
    """From now on the store refuses every audit_log insert, as a full disk or a lost connection would."""
    db_engine = create_engine(url, future=True, poolclass=NullPool)
    try:
        with db_engine.begin() as db:
            if db_engine.dialect.name == "sqlite":
                db.execute(text("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                                "BEGIN SELECT RAISE(ABORT, 'audit refused'); END"))
            else:
                db.execute(text("CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"))
                db.execute(text("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                                "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"))
    finally:
        db_engine.dispose()


def test_a_decision_that_cannot_be_audited_is_not_made(store_url: str, clock: Clock) -> None:
    """The decision and its audit row are one transaction: no change without its row."""
    report_number(store_url, "resident-a", SCAM_NUMBER)
    reports.submit_report("resident-b", "rest", SMS, [], url=store_url)
    reports.submit_feedback("resident-c", "rest", reports.WRONG, GENUINE, "需警惕", url=store_url)
    (text_group,), (dispute,) = review.report_text_groups(store_url), review.dispute_groups(store_url)
    refuse_audit_rows(store_url)

    with pytest.raises(Exception, match="audit refused"):
        review.decide_indicator("王警官", "confirm", "phone", SCAM_NUMBER, url=store_url)
    with pytest.raises(Exception, match="audit refused"):
        review.decide_reports("王警官", text_group.ids, "accept", scenario="phishing_link", url=store_url)
    with pytest.raises(Exception, match="audit refused"):
        review.decide_disputes("王警官", dispute.ids, "example", scenario="none", url=store_url)

    assert indicator(store_url, "phone", SCAM_NUMBER).state == known.REPORTED  # type: ignore[union-attr]
    assert rows(store_url, scam_library.known_scams) == []
    assert review.open_counts(store_url) == {"indicators": 1, "texts": 1, "disputes": 1}


def test_accepted_reports_become_one_known_scam_that_the_index_matches(store_url: str, clock: Clock) -> None:
    for n, copy in enumerate([SMS, *COPIES]):
        reports.submit_report(f"resident-{n}", "wechat", copy, nlu_entities(copy), url=store_url)
        clock.advance(minutes=1)
    reports.submit_report("resident-9", "rest", GENUINE, [], url=store_url)
    index = scam_library.known_index(store_url)
    pasted = SMS.replace("张伟", "王芳").replace("etc-rz.top/a8", "etc-auth.cc/k")
    assert index.match(pasted) is None

    copies, genuine = review.report_text_groups(store_url)
    decided = review.decide_reports("王警官", copies.ids, "accept", scenario="phishing_link",
                                    title="冒充ETC客服的认证短信", url=store_url)
    assert decided == len(COPIES) + 1
    (entry,) = rows(store_url, scam_library.known_scams)
    assert (entry["text"], entry["scenario"], entry["title"]) == (COPIES[-1], "phishing_link", "冒充ETC客服的认证短信")
    assert entry["source"] == f"report:{max(copies.ids)}"
    index.refresh(force=True)
    found = index.match(pasted)
    assert found is not None and found.id == entry["id"] and found.title == "冒充ETC客服的认证短信"
    assert index.match(GENUINE) is None

    assert review.decide_reports("李警官", [genuine.ids[0]], "dismiss", url=store_url) == 1
    assert review.report_text_groups(store_url) == []  # decided rows leave the queue
    states = {row["id"]: (row["state"], row["decided_by"], utc(row["decided_at"]))  # type: ignore[arg-type]
              for row in rows(store_url, reports.reports)}
    assert {states[i] for i in copies.ids} == {(reports.ACCEPTED, "王警官", START + timedelta(minutes=5))}
    assert states[genuine.ids[0]][:2] == (reports.DISMISSED, "李警官")
    assert audit_rows(store_url) == [
        ("王警官", "reports_accept", {"ids": sorted(copies.ids, reverse=True), "scenario": "phishing_link"}),
        ("李警官", "reports_dismiss", {"ids": genuine.ids, "scenario": None})]

    # deciding rows already decided does nothing: no second library entry, no audit row
    assert review.decide_reports("李警官", copies.ids, "accept", url=store_url) == 0
    assert review.decide_reports("李警官", [*copies.ids, *genuine.ids], "dismiss", url=store_url) == 0
    assert len(rows(store_url, scam_library.known_scams)) == 1 and len(audit_rows(store_url)) == 2
    with pytest.raises(ValueError):
        review.decide_reports("李警官", copies.ids, "confirm", url=store_url)


def test_disputes_become_a_training_example_or_are_dismissed(store_url: str, clock: Clock) -> None:
    for n, copy in enumerate(COPIES[:2]):
        reports.submit_feedback(f"resident-{n}", "rest", reports.WRONG, copy, "高风险", claim="wrong_type",
                                url=store_url)
        clock.advance(minutes=1)
    reports.submit_feedback("resident-5", "rest", reports.WRONG, GENUINE, "需警惕", claim="not_scam", url=store_url)
    copies, genuine = review.dispute_groups(store_url)

    with pytest.raises(ValueError):
        review.decide_disputes("张警官", copies.ids, "example", url=store_url)  # the reviewer names the scenario
    assert review.decide_disputes("张警官", copies.ids, "example", scenario="phishing_link", url=store_url) == [
        COPIES[1], COPIES[0]]
    assert review.decide_disputes("张警官", genuine.ids, "dismiss", url=store_url) == [GENUINE]
    assert review.dispute_groups(store_url) == [] and review.open_counts(store_url)["disputes"] == 0
    decided = {row["id"]: (row["state"], row["example_scenario"], row["decided_by"])
               for row in feedback_rows(store_url)}
    assert [decided[i] for i in copies.ids] == [(reports.EXAMPLE, "phishing_link", "张警官")] * 2
    assert decided[genuine.ids[0]] == (reports.DISMISSED, None, "张警官")
    assert [action for _actor, action, _detail in audit_rows(store_url)] == ["disputes_example", "disputes_dismiss"]
    assert review.decide_disputes("张警官", copies.ids, "dismiss", url=store_url) == []
    assert len(audit_rows(store_url)) == 2


# -- privacy -------------------------------------------------------------------------------------------

def test_nothing_kept_names_a_reporter(store_url: str, clock: Clock) -> None:
    """Senders whose ids are phone numbers, texts with their own phone, ID and card numbers: the store keeps
    none of those digits, only the reported indicator; the reporter key is not the conversation's key."""
    senders = {"rest": "13812345678", "telegram": "15698765432", "wechat": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"}
    own = ["13812345678", "15698765432", "18611112222", "110105194912310021", "6222021234567890123"]
    message = (f"举报{SCAM_NUMBER}，他让我把验证码发过去。我是王小明，我电话18611112222，"
               "身份证110105194912310021，我的卡6222 0212 3456 7890 123还没转钱")
    for channel, sender in senders.items():
        outcome = reports.submit_report(sender, channel, message, [{"entity": "phone", "value": SCAM_NUMBER}],
                                        region="朝阳区", url=store_url)
        assert outcome.status == reports.RECORDED
        assert reports.submit_feedback(sender, channel, reports.WRONG, message,
                                       f"高风险：{SCAM_NUMBER}……您的卡6222021234567890123请马上冻结", claim="scam",
                                       url=store_url) == reports.RECORDED
    reports.submit_report(senders["rest"], "rest", "我手机13812345678今天收到：您的ETC认证已过期，请点击链接重新认证，"
                          "逾期将被注销", [], url=store_url)
    review.decide_reports("王警官", review.report_text_groups(store_url)[0].ids, "dismiss", url=store_url)
    review.decide_indicator("王警官", "confirm", "phone", SCAM_NUMBER, url=store_url)
    review.decide_disputes("王警官", review.dispute_groups(store_url)[0].ids, "dismiss", url=store_url)

    indicator_values = set()
    for table in (reports.reports, reports.feedback, audit_log):
        for row in rows(store_url, table):
            for column, value in row.items():
                if not isinstance(value, str):
                    continue
                if table is reports.reports and column == "value":
                    indicator_values.add(value)
                    continue
                for number in [*own, *senders.values()]:
                    assert number not in value, (table.name, column)
                    assert number[:7] not in value and number[-7:] not in value, (table.name, column)
                long_runs = set(re.findall(r"\d{7,}", value))
                assert long_runs <= ({SCAM_NUMBER} if table is audit_log else set()), (table.name, column, long_runs)
    assert indicator_values == {SCAM_NUMBER}

    keys = {row["reporter"] for row in rows(store_url, reports.reports)}
    assert keys == {reports.reporter_key(channel, sender) for channel, sender in senders.items()}
    for channel, sender in senders.items():
        key = reports.reporter_key(channel, sender)
        assert key != hash_id(sender) and sender not in key and not re.search(r"\d", key)


# -- at once, on PostgreSQL ----------------------------------------------------------------------------

def test_fleet_residents_reporting_one_new_number_at_once_are_each_counted(postgres: Postgres) -> None:
    """Eight residents report the same new numbers at the same moment: every report is counted, none fails on
    the unique (kind, value) of the indicator that two first reports both try to create."""
    url = postgres_store(postgres)
    numbers = [f"1370000{n:04d}" for n in range(reports.REPORTS_PER_HOUR)]
    residents = 8
    together = threading.Barrier(residents)  # cyclic: every number is a race of its own
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def report(n: int) -> None:
        for number in numbers:
            together.wait(timeout=60)
            try:
                outcomes.append(report_number(url, f"resident-{n}", number).status)
            except Exception as error:  # noqa: BLE001 - collected for the assertion below
                failures.append(error)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(residents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert outcomes == [reports.RECORDED] * residents * len(numbers)
    assert {(i.value, i.report_count) for i in known.listing(url)} == {(number, residents) for number in numbers}
    assert len(rows(url, reports.reports)) == residents * len(numbers)
