"""答题's store (bot/quiz.py) with an injected clock: what counts, streaks across China-time days, a group's
weekly ranking without names unless opted in, what the tables hold, open questions; and on PostgreSQL,
two replicas recording one press once."""

from __future__ import annotations

import random
import shutil
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from sqlalchemy import select

from bot import migrations
from bot.fleet import Postgres
from bot.quiz import (
    OPEN_FOR,
    BadName,
    QuizStore,
    asked_scenario,
    clean_name,
    letter_of,
    letters_for,
    quiz_answers,
    quiz_players,
    result_text,
)
from core import campaign
from core.knowledge import PROJECT_ROOT

# Monday 2026-11-23, 10:00 China time (02:00 UTC)
MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
CHANNEL = "wechat_oa"
PHONE_LIKE = "13812345678"  # a user id that looks like a phone number must never be stored

QUESTIONS = [
    {"id": "quiz_police_1", "scenario": "impersonate_police",
     "question": "有人自称公安民警，说您涉嫌洗钱，要您把钱转到“安全账户”。您怎么办？",
     "choices": ["按他说的转账", "挂断，打110核实", "先转一半试试"], "answer": 1,
     "explanation": "公安机关没有“安全账户”，要求转账的就是诈骗。"},
    {"id": "quiz_police_2", "scenario": "impersonate_police",
     "question": "“民警”要您下载一个会议软件，开屏幕共享配合调查。对吗？",
     "choices": ["照做", "拒绝并挂断", "只共享一会儿", "先问问他的警号"], "answer": 1,
     "explanation": "屏幕共享会让对方看到验证码，民警不会这样办案。"},
    {"id": "quiz_rebate_1", "scenario": "task_rebate",
     "question": "网上兼职刷单，说先垫付，做完返佣金。可以做吗？",
     "choices": ["可以，先小额试试", "不做，刷单就是诈骗"], "answer": 1,
     "explanation": "刷单本身违法，先垫付的“任务”都是诈骗。"},
    {"id": "quiz_rebate_2", "scenario": "task_rebate",
     "question": "客服说您刷单操作失误，要再充值才能把钱取出来。怎么办？",
     "choices": ["再充值一次", "停止转账，打110报警", "找朋友借钱充值"], "answer": 1,
     "explanation": "说“操作失误要再充值”是为了骗更多钱，马上停止并报警。"},
]


def content_root(directory: Path, questions: list[dict] | None = None) -> Path:
    """A content root (FRAUDBOT_CONTENT_DIR) like the repository's, with a small campaign.yml of its own."""
    root = directory / "content"
    shutil.copytree(PROJECT_ROOT / "core" / "data", root / "core" / "data")
    shutil.copy(PROJECT_ROOT / "domain.yml", root / "domain.yml")
    (root / "core" / "data" / "campaign.yml").write_text(
        yaml.safe_dump({"tips": [], "stories": [], "quiz": QUESTIONS if questions is None else questions},
                       allow_unicode=True), encoding="utf-8")
    return root


class Clock:
    """The store's clock, moved by the test."""

    def __init__(self, at: datetime = MONDAY) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = content_root(tmp_path)
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(root))
    return root


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def quiz(tmp_path: Path, content: Path, clock: Clock) -> QuizStore:
    return QuizStore(f"sqlite:///{tmp_path / 'store.db'}", clock=clock, rng=random.Random(7))


def right_choice(question_id: str) -> int:
    return next(q["answer"] for q in QUESTIONS if q["id"] == question_id)


def wrong_choice(question_id: str) -> int:
    return (right_choice(question_id) + 1) % 2


# -- the content as the store reads it -------------------------------------------------------------


def test_the_fixture_content_is_valid_campaign_content_as_far_as_questions_go(content: Path) -> None:
    found = campaign.problems(campaign.data())
    assert [p for p in found if "至少要留" not in p] == []  # the fixture covers two scenarios, not all
    assert [q.id for q in campaign.questions()] == [q["id"] for q in QUESTIONS]


# -- what counts ------------------------------------------------------------------------------------


def test_one_answer_per_question_per_day_counts_and_a_repeat_gets_the_first_result(quiz: QuizStore,
                                                                                  clock: Clock) -> None:
    first = quiz.answer(CHANNEL, "u1", "quiz_police_1", wrong_choice("quiz_police_1"))
    again = quiz.answer(CHANNEL, "u1", "quiz_police_1", right_choice("quiz_police_1"))
    assert (first.counted, first.right) == (True, False)
    assert (again.counted, again.right) == (False, False)  # the first answer is the one that counts
    assert quiz.standing(CHANNEL, "u1").answered == 1

    clock.advance(days=1)
    next_day = quiz.answer(CHANNEL, "u1", "quiz_police_1", right_choice("quiz_police_1"))
    assert (next_day.counted, next_day.right) == (True, True)
    standing = quiz.standing(CHANNEL, "u1")
    assert (standing.answered, standing.right) == (2, 1)
    with quiz.engine.connect() as db:
        assert db.execute(select(quiz_answers.c.day)).scalars().all() == [MONDAY.date(), MONDAY.date() + timedelta(1)]


def test_a_question_no_longer_in_the_content_is_not_recorded(quiz: QuizStore) -> None:
    assert quiz.answer(CHANNEL, "u1", "quiz_gone", 0) is None
    assert quiz.standing(CHANNEL, "u1").answered == 0


def test_days_are_china_time_days(quiz: QuizStore, clock: Clock) -> None:
    """23:59 and 00:01 China time are two days, though both are the same UTC date."""
    clock.at = datetime(2026, 11, 23, 15, 59, tzinfo=timezone.utc)  # 23:59 in China
    assert quiz.answer(CHANNEL, "u1", "quiz_police_1", 1).counted
    clock.advance(minutes=2)  # 00:01 the next day in China, still 2026-11-23 in UTC
    assert quiz.answer(CHANNEL, "u1", "quiz_police_1", 1).counted
    assert quiz.standing(CHANNEL, "u1").streak == 2


def test_streak_counts_consecutive_days_with_a_right_answer(quiz: QuizStore, clock: Clock) -> None:
    def right(question_id: str) -> int:
        return quiz.answer(CHANNEL, "u1", question_id, right_choice(question_id)).standing.streak

    assert right("quiz_police_1") == 1
    assert right("quiz_rebate_1") == 1  # a second right answer the same day: the same day of the streak
    clock.advance(days=1)
    assert right("quiz_police_2") == 2
    clock.advance(days=1)
    wrong = quiz.answer(CHANNEL, "u1", "quiz_rebate_2", 0)  # only a wrong one today: yesterday still counts
    assert not wrong.right and wrong.standing.streak == 2
    clock.advance(days=1)
    standing = quiz.standing(CHANNEL, "u1")
    assert (standing.streak, standing.best_streak) == (0, 2)  # a whole day without a right answer
    assert right("quiz_police_1") == 1
    assert quiz.standing(CHANNEL, "u1").best_streak == 2
    for _ in range(3):
        clock.advance(days=1)
        right("quiz_rebate_1")
    standing = quiz.standing(CHANNEL, "u1")
    assert (standing.streak, standing.best_streak, standing.right) == (4, 4, 7)


def test_players_are_counted_per_channel_user(quiz: QuizStore) -> None:
    quiz.answer("wechat_oa", "same-id", "quiz_police_1", 1)
    quiz.answer("wecom", "same-id", "quiz_police_1", 0)
    assert quiz.standing("wechat_oa", "same-id").right == 1
    assert quiz.standing("wecom", "same-id").right == 0


# -- picking a question -----------------------------------------------------------------------------


def test_pick_skips_questions_answered_right_recently_and_takes_a_scenario(quiz: QuizStore, clock: Clock) -> None:
    assert {quiz.pick(CHANNEL, "u1", "task_rebate").scenario for _ in range(20)} == {"task_rebate"}
    assert quiz.pick(CHANNEL, "u1", "sextortion") is None  # none of that scenario in this content
    quiz.answer(CHANNEL, "u1", "quiz_rebate_1", right_choice("quiz_rebate_1"))
    quiz.answer(CHANNEL, "u1", "quiz_rebate_2", 0)  # wrong: may come again
    assert {quiz.pick(CHANNEL, "u1", "task_rebate").id for _ in range(20)} == {"quiz_rebate_2"}
    assert "quiz_rebate_1" not in {quiz.pick(CHANNEL, "u1").id for _ in range(40)}
    assert "quiz_rebate_1" in {quiz.pick(CHANNEL, "u2").id for _ in range(40)}  # another player's answers

    quiz.answer(CHANNEL, "u1", "quiz_rebate_2", right_choice("quiz_rebate_2"))
    clock.advance(days=1)
    quiz.answer(CHANNEL, "u1", "quiz_rebate_2", right_choice("quiz_rebate_2"))
    assert quiz.pick(CHANNEL, "u1", "task_rebate") is not None  # all answered right: the pool again
    clock.advance(days=15)
    assert {quiz.pick(CHANNEL, "u1").id for _ in range(60)} == {q["id"] for q in QUESTIONS}


def test_an_empty_content_has_nothing_to_pick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(content_root(tmp_path, questions=[])))
    assert QuizStore(f"sqlite:///{tmp_path / 'store.db'}").pick(CHANNEL, "u1") is None


# -- rankings and names -----------------------------------------------------------------------------


def test_group_ranking_counts_this_week_and_names_only_players_who_opted_in(quiz: QuizStore, clock: Clock) -> None:
    group, other_group = -100500, -100600
    clock.at = MONDAY - timedelta(days=1)  # last week: not in this week's ranking
    quiz.answer("telegram", 11, "quiz_police_1", 1, chat_id=group)
    clock.at = MONDAY
    for question_id in ("quiz_police_1", "quiz_police_2", "quiz_rebate_1"):
        quiz.answer("telegram", 11, question_id, right_choice(question_id), chat_id=group)
    quiz.answer("telegram", 22, "quiz_police_1", 0, chat_id=group)
    quiz.answer("telegram", 22, "quiz_rebate_1", 1, chat_id=group)
    quiz.answer("telegram", 22, "quiz_rebate_1", 0, chat_id=group)  # a second press: not counted again
    quiz.answer("telegram", 33, "quiz_police_1", 1, chat_id=other_group)
    quiz.answer("telegram", 44, "quiz_police_1", 1)  # a private chat is nobody's group

    ranking = quiz.ranking("telegram", group)
    assert [(row.name, row.answered, row.right) for row in ranking.rows] == [(None, 3, 3), (None, 2, 1)]
    assert (ranking.players, ranking.answers) == (2, 5)
    assert ranking.since == datetime(2026, 11, 23, tzinfo=timezone(timedelta(hours=8)))

    assert quiz.set_name("telegram", 22, "  小区 老王 ") == "小区 老王"
    ranking = quiz.ranking("telegram", group)
    assert [row.name for row in ranking.rows] == [None, "小区 老王"]
    quiz.forget_name("telegram", 22)
    assert [row.name for row in quiz.ranking("telegram", group).rows] == [None, None]
    with quiz.engine.connect() as db:
        assert db.execute(select(quiz_players.c.display_name).where(
            quiz_players.c.display_name.isnot(None))).all() == []  # opting out deletes the name

    clock.advance(days=7)  # next Monday: a new week
    assert quiz.ranking("telegram", group).answers == 0


def test_the_week_starts_at_monday_midnight_china_time_whatever_zone_the_clock_gives(quiz: QuizStore,
                                                                                      clock: Clock) -> None:
    """Monday 00:30 in China is still Sunday in UTC: that answer is this week's, Sunday 23:30's is not."""
    china = timezone(timedelta(hours=8))
    clock.at = datetime(2026, 11, 22, 23, 30, tzinfo=china)  # Sunday night
    quiz.answer("telegram", 11, "quiz_police_1", 1, chat_id=-100500)
    clock.at = datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc)  # Monday 00:30 in China, told in UTC
    quiz.answer("telegram", 22, "quiz_police_1", 1, chat_id=-100500)
    assert quiz.ranking("telegram", -100500).answers == 1
    clock.at = clock.at.astimezone(china)  # the same moment told in China time
    assert quiz.ranking("telegram", -100500).answers == 1
    assert [r.answered for r in quiz.scenario_results(since=datetime(2026, 11, 23, tzinfo=china))] == [1]


@pytest.mark.parametrize("name", ["13812345678", "我的电话138 1234 5678", "", "   ", "名" * 13,
                                  "http://x.cn", "QQ号：12345678"])
def test_names_that_are_numbers_links_empty_or_long_are_refused(name: str) -> None:
    with pytest.raises(BadName) as refusal:
        clean_name(name)
    assert str(refusal.value)  # a reason the resident can read


def test_nothing_stored_names_the_player_unless_they_opted_in(quiz: QuizStore) -> None:
    """Every column of both tables, as text: no user id, no chat id, no phone, no name until opted in."""
    quiz.answer(CHANNEL, PHONE_LIKE, "quiz_police_1", 1)
    quiz.answer("telegram", 987654321, "quiz_police_2", 1, chat_id=-1001234567890)
    quiz.open(CHANNEL, PHONE_LIKE, "quiz_rebate_1")
    quiz.remind_once(CHANNEL, PHONE_LIKE)

    def stored() -> str:
        with quiz.engine.connect() as db:
            rows = [*db.execute(select(quiz_answers)).all(), *db.execute(select(quiz_players)).all()]
        return "\n".join(str(value) for row in rows for value in row)

    text = stored()
    for secret in (PHONE_LIKE, "987654321", "1001234567890", "老王"):
        assert secret not in text
    assert quiz.set_name("telegram", 987654321, "老王") == "老王"
    assert "老王" in stored() and "987654321" not in stored()
    quiz.forget_name("telegram", 987654321)
    assert "老王" not in stored()


# -- what officers see -------------------------------------------------------------------------------


def test_share_of_right_answers_per_scenario(quiz: QuizStore, clock: Clock) -> None:
    for user, choice in (("a", 1), ("b", 1), ("c", 0), ("d", 2)):
        quiz.answer(CHANNEL, user, "quiz_police_1", choice)
    quiz.answer(CHANNEL, "a", "quiz_rebate_1", 0, campaign_id=7)
    quiz.answer(CHANNEL, "b", "quiz_rebate_1", 1, campaign_id=7)
    quiz.answer(CHANNEL, "b", "quiz_rebate_1", 0, campaign_id=7)  # not counted
    results = quiz.scenario_results()
    assert [(r.scenario, r.answered, r.right) for r in results] == [("impersonate_police", 4, 2),
                                                                     ("task_rebate", 2, 1)]
    assert results[0].share_right == 0.5
    assert [(r.scenario, r.answered) for r in quiz.scenario_results(campaign_id=7)] == [("task_rebate", 2)]
    assert quiz.scenario_results(since=clock() + timedelta(seconds=1)) == []
    assert quiz.scenario_results(until=clock()) == []


# -- a question asked by text ------------------------------------------------------------------------


def test_an_open_question_waits_thirty_minutes_and_is_reminded_once(quiz: QuizStore, clock: Clock) -> None:
    assert quiz.opened(CHANNEL, "u1") is None and quiz.remind_once(CHANNEL, "u1") is False
    quiz.open(CHANNEL, "u1", "quiz_police_1")
    assert quiz.opened(CHANNEL, "u1").question_id == "quiz_police_1"
    assert quiz.remind_once(CHANNEL, "u1") is True
    assert quiz.remind_once(CHANNEL, "u1") is False
    assert quiz.opened(CHANNEL, "u1").reminded is True
    quiz.open(CHANNEL, "u1", "quiz_police_2")  # a new question gets its own reminder
    assert quiz.remind_once(CHANNEL, "u1") is True
    clock.advance(seconds=OPEN_FOR.total_seconds() - 1)
    assert quiz.opened(CHANNEL, "u1").question_id == "quiz_police_2"
    clock.advance(seconds=2)
    assert quiz.opened(CHANNEL, "u1") is None
    quiz.open(CHANNEL, "u1", "quiz_rebate_1")
    quiz.close(CHANNEL, "u1")
    assert quiz.opened(CHANNEL, "u1") is None


# -- reading residents -------------------------------------------------------------------------------


@pytest.mark.parametrize("text,letter", [("A", "A"), ("b", "B"), ("Ａ", "A"), ("选B", "B"), (" 选 c ", "C"),
                                         ("我选D。", "D"), ("答案是：a", "A"), ("E", "E"), ("", None),
                                         ("AB", None), ("B站上的客服", None), ("好的", None), ("选", None)])
def test_letter_of(text: str, letter: str | None) -> None:
    assert letter_of(text) == letter


def test_letters_scenarios_and_result_texts(quiz: QuizStore, content: Path) -> None:
    three, two = campaign.questions()[0], campaign.questions()[2]
    assert (letters_for(three), letters_for(two)) == ("A、B 或 C", "A 或 B")
    assert asked_scenario("刷单") == "task_rebate" and asked_scenario("impersonate_police") == "impersonate_police"
    assert asked_scenario("吧") is None and asked_scenario("none") is None and asked_scenario("") is None
    wrong = result_text(quiz.answer(CHANNEL, "u1", three.id, 0))
    assert "没答对" in wrong and "B" in wrong and three.explanation in wrong and "共答 1 题" in wrong
    right = result_text(quiz.answer(CHANNEL, "u1", two.id, 1))
    assert "答对了" in right and two.explanation in right and "答对 1 题" in right
    assert "已经答过" in result_text(quiz.answer(CHANNEL, "u1", two.id, 0))


# -- PostgreSQL: presses arriving together ----------------------------------------------------------


@pytest.fixture
def postgres_quiz(postgres: Postgres, content: Path, clock: Clock) -> Iterator[QuizStore]:
    url = postgres.create_database(f"quiz_{random.randrange(10**9)}")
    migrations.upgrade(url)
    yield QuizStore(url, clock=clock)


def test_fleet_presses_arriving_together_count_once_on_postgres(postgres_quiz: QuizStore, clock: Clock) -> None:
    """Eight presses of one question by one new player at once (a double tap, replicas): one answer,
    one player row, streak 1 — the losers of the race get the winner's result, not an error."""
    replicas = [QuizStore(postgres_quiz._url, clock=clock) for _ in range(8)]
    start, outcomes, failures = threading.Barrier(len(replicas)), [], []

    def press(store: QuizStore) -> None:
        start.wait()
        try:
            outcomes.append(store.answer("telegram", 4242, "quiz_police_1", 1, chat_id=-100500))
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            failures.append(error)

    threads = [threading.Thread(target=press, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(outcome.counted for outcome in outcomes) == [False] * 7 + [True]
    assert all(outcome.right for outcome in outcomes)
    standing = postgres_quiz.standing("telegram", 4242)
    assert (standing.answered, standing.right, standing.streak) == (1, 1, 1)
    assert postgres_quiz.ranking("telegram", -100500).answers == 1
