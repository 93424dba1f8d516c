"""答题 through the real channels, served by Sanic on loopback in this process: Telegram's /quiz in a private
chat and in a group against the fake Bot API, WeChat's and WeCom's "答题" answered by letter with real
signatures and encryption (the fake WeChat API for picture downloads). The dialogue behind the channels is a
stand-in that records what reaches it: the quiz is answered before Rasa, and everything else must still
get through (no trained model needed)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any, Iterator

import pytest
import xmltodict
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from bot.channels.telegram import TelegramInput
from bot.channels.wechat import OfficialAccountInput
from bot.channels.wecom import WeComInput
from bot.config import TelegramConfig
from bot.fallback import hotline_fallback_text
from bot.quiz import OPEN_FOR, QuizStore, quiz_answers, quiz_players
from bot.store import now
from tests.conftest import running_fake_telegram
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.test_quiz import QUESTIONS, content_root
from tests.test_telegram import SECRET, bot_message, message, post, user
from tests.test_wechat import (
    AES_KEY,
    CORP_ID,
    OA,
    TOKEN,
    WECOM,
    content_of,
    http,
    image_xml,
    signed_query,
    text_xml,
    wecom_query,
)

GROUP = -100700
_presses = itertools.count(1)


class Dialogue:
    """Stands in for Rasa: records each text that reaches it and answers with one bubble naming 96110."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.texts.append(message.text)
        answer = f"助手回答（拿不准就打96110）：{message.text[:10]}"
        await message.output_channel.send_text_message(message.sender_id, answer)


class NoNlu:
    """The agent's parse for the Telegram group auto-warning: nothing found (never reached by the quiz)."""

    async def parse_message(self, text: str) -> dict[str, Any]:
        return {"intent": {"name": "greet", "confidence": 1.0}, "entities": [], "text": text}


class Clock:
    """Real time, moved forward by the test (the open question's 30 minutes)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return now() + self.offset


class Served:
    """The channels' blueprints on one Sanic app, served by its own event loop in a thread, as the Rasa
    server serves them (``/webhooks/<name>/…``, the before-start and after-stop listeners)."""

    def __init__(self, channels: list[InputChannel], dialogue: Dialogue) -> None:
        self.channels, self.dialogue = channels, dialogue
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._failure: BaseException | None = None

    def __enter__(self) -> Served:
        self._thread.start()
        assert self._ready.wait(60), "the channels never started"
        if self._failure:
            raise self._failure
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    async def _serve(self) -> None:
        try:
            app = Sanic(f"quiz_channels_{id(self)}")
            app.ctx.agent = NoNlu()
            for channel in self.channels:
                app.blueprint(channel.blueprint(self.dialogue), url_prefix=f"/webhooks/{channel.name()}")
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
            await server.startup()
            await server.before_start()
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        except BaseException as error:  # told to the test thread, which raises it
            self._failure = error
            self._ready.set()
            raise
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeTelegram]:
    with running_fake_telegram() as api:
        yield api


@pytest.fixture(scope="module")
def fake_wechat() -> Iterator[FakeWeChat]:
    api = FakeWeChat().start()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fake_telegram: FakeTelegram, fake_wechat: FakeWeChat,
           clock: Clock) -> Iterator[dict[str, Any]]:
    """Telegram, the Official Account (plaintext) and WeCom (encrypted) on one server, with their stores."""
    tmp = tmp_path_factory.mktemp("quiz-channels")
    with pytest.MonkeyPatch.context() as env:
        db = f"sqlite:///{tmp / 'store.db'}"
        env.setenv("FRAUDBOT_DB_URL", db)
        env.setenv("FRAUDBOT_CONTENT_DIR", str(content_root(tmp)))
        env.setenv("FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE", "1000")  # the fake sets no limits
        env.setenv("WECHAT_API_BASE_URL", fake_wechat.base_url)
        env.setenv("WECOM_API_BASE_URL", fake_wechat.base_url)
        env.setattr(Sanic, "test_mode", True)
        telegram = TelegramInput(TelegramConfig(token="123456:QUIZ", webhook_secret=SECRET,
                                                api_base_url=fake_telegram.base_url))
        official = OfficialAccountInput(token=TOKEN, appid="wxquiz0000000001", secret="quiz-oa-secret")
        wecom = WeComInput(token=TOKEN, aes_key=AES_KEY, corp_id=CORP_ID, secret="quiz-app-secret",
                           agent_id="1000002")
        official.quiz.store = QuizStore(db, clock=clock)
        wecom.quiz.store = QuizStore(db, clock=clock)
        dialogue = Dialogue()
        with Served([telegram, official, wecom], dialogue) as server:
            assert telegram.ready and telegram.handlers is not None
            yield {"url": server.url, "db": db, "dialogue": dialogue, "telegram": telegram,
                   "store": QuizStore(db, clock=clock)}


# -- Telegram ---------------------------------------------------------------------------------------


def question_of(text: str) -> dict[str, Any]:
    """The fixture's question a message shows."""
    return next(q for q in QUESTIONS if q["question"] in text)


def letter_buttons(call_params: dict[str, Any]) -> list[dict[str, str]]:
    rows = call_params["reply_markup"]["inline_keyboard"]
    assert len(rows) == 1  # one row: A B C D side by side
    return rows[0]


def press(served: dict[str, Any], uid: int, chat_id: int, data: str) -> str:
    """A member presses a button of a message in ``chat_id``; the callback query's id."""
    query_id = f"quiz-press-{next(_presses)}"
    assert post(served, {"update_id": 900_000 + next(_presses), "callback_query": {
        "id": query_id, "from": user(uid), "chat_instance": str(chat_id), "data": data,
        "message": bot_message(chat_id)}}) == 200
    return query_id


def alert_of(fake: FakeTelegram, query_id: str) -> dict[str, Any]:
    [answer] = fake.callback_answers(query_id)
    return answer


def shown_as_alert(answer: dict[str, Any]) -> bool:
    return str(answer.get("show_alert")).lower() == "true"


def test_private_quiz_round_trip(served: dict[str, Any], fake_telegram: FakeTelegram) -> None:
    resident = 5001
    reached = len(served["dialogue"].texts)
    post(served, message("/quiz", resident, resident))
    asked = fake_telegram.sent(resident)[-1].params
    question = question_of(asked["text"])
    buttons = letter_buttons(asked)
    assert [b["text"] for b in buttons] == list("ABCD"[:len(question["choices"])])
    assert "A. " in asked["text"] and "点下面的字母作答" in asked["text"]

    wrong = (question["answer"] + 1) % len(question["choices"])
    first = press(served, resident, resident, buttons[wrong]["callback_data"])
    result = fake_telegram.sent(resident)[-1].params
    assert "没答对" in result["text"] and question["explanation"] in result["text"]
    assert "共答 1 题" in result["text"]
    assert [b["text"] for b in letter_buttons(result)] == ["再来一题"]
    assert alert_of(fake_telegram, first).get("text") is None  # just the spinner stopped: the answer is the message

    sent_before = len(fake_telegram.sent(resident))
    second = press(served, resident, resident, buttons[question["answer"]]["callback_data"])
    assert len(fake_telegram.sent(resident)) == sent_before  # a second press adds no message
    repeat = alert_of(fake_telegram, second)
    assert shown_as_alert(repeat) and "已经答过" in repeat["text"] and "没答对" in repeat["text"]

    press(served, resident, resident, letter_buttons(result)[0]["callback_data"])  # 再来一题
    another = fake_telegram.sent(resident)[-1].params
    assert question_of(another["text"]) and len(letter_buttons(another)) >= 2
    assert served["dialogue"].texts[reached:] == []  # nothing of the quiz reached the dialogue
    assert served["store"].standing("telegram", resident).answered == 1


def test_group_question_is_posted_once_and_each_member_answers_privately(served: dict[str, Any],
                                                                          fake_telegram: FakeTelegram) -> None:
    command = message("/quiz 刷单", GROUP, 6001)
    post(served, command)
    [posted] = fake_telegram.sent(GROUP)
    assert posted.params["reply_parameters"]["message_id"] == command["message"]["message_id"]
    assert "结果只有您自己看得到" in posted.params["text"]
    question = question_of(posted.params["text"])
    assert question["scenario"] == "task_rebate"  # the scenario asked for
    buttons = letter_buttons(posted.params)
    right, wrong = buttons[question["answer"]]["callback_data"], buttons[1 - question["answer"]]["callback_data"]

    sends_before, edits_before = fake_telegram.count("sendMessage"), fake_telegram.count("editMessageText")
    answers = {uid: alert_of(fake_telegram, press(served, uid, GROUP, data))
               for uid, data in ((6002, right), (6003, wrong))}
    again = alert_of(fake_telegram, press(served, 6002, GROUP, wrong))  # the same member, another letter
    assert all(shown_as_alert(answer) for answer in [*answers.values(), again])
    assert "答对了" in answers[6002]["text"] and "没答对" in answers[6003]["text"]
    assert question["explanation"] in answers[6003]["text"]
    assert "已经答过" in again["text"] and "（答对了）" in again["text"]  # the first press is the one that counts
    assert all(len(answer["text"]) <= 200 for answer in [*answers.values(), again])
    assert fake_telegram.count("sendMessage") == sends_before  # nothing posted per answer
    assert fake_telegram.count("editMessageText") == edits_before  # and the question is not edited

    post(served, message("/quiz_name 三楼张阿姨", GROUP, 6002))
    assert "三楼张阿姨" in fake_telegram.sent(GROUP)[-1].params["text"]
    post(served, message("/quiz_rank", GROUP, 6004))
    ranking = fake_telegram.sent(GROUP)[-1].params["text"]
    assert "三楼张阿姨：答了 1 题，答对 1 题" in ranking
    assert "一位群友：答了 1 题，答对 0 题" in ranking and "共 2 人参加，答了 2 题" in ranking
    assert "6003" not in ranking and "6002" not in ranking

    post(served, message("/quiz_name 取消", GROUP, 6002))
    post(served, message("/quiz_rank", GROUP, 6004))
    assert "张阿姨" not in fake_telegram.sent(GROUP)[-1].params["text"]


def test_forged_or_foreign_buttons_change_nothing(served: dict[str, Any], fake_telegram: FakeTelegram) -> None:
    post(served, message("/quiz", GROUP - 1, 7001))
    data = letter_buttons(fake_telegram.sent(GROUP - 1)[-1].params)[0]["callback_data"]
    store = served["store"]
    before = store.scenario_results()
    body, _, mac = data.rpartition(":")
    forged = [data.replace(":0:", ":1:", 1), f"{body}:{'A' * len(mac)}", "qz:more", "qz:"]
    for attempt in forged:
        answer = alert_of(fake_telegram, press(served, 7002, GROUP - 1, attempt))
        assert shown_as_alert(answer) and "失效" in answer["text"]
    foreign = alert_of(fake_telegram, press(served, 7002, 7002, data))  # the group's button, pressed elsewhere
    assert "失效" in foreign["text"]
    assert store.scenario_results() == before


def test_other_messages_still_reach_the_dialogue(served: dict[str, Any], fake_telegram: FakeTelegram) -> None:
    post(served, message("有人让我刷单返利，先垫付", 5101, 5101))
    assert served["dialogue"].texts[-1] == "有人让我刷单返利，先垫付"
    assert "96110" in fake_telegram.sent(5101)[-1].params["text"]


def test_quiz_name_refuses_a_phone_number_and_stores_nothing(served: dict[str, Any],
                                                             fake_telegram: FakeTelegram) -> None:
    post(served, message("/quiz_name 13812345678", 5201, 5201))
    assert "电话" in fake_telegram.sent(5201)[-1].params["text"]
    post(served, message("/quiz_name", 5201, 5201))
    assert "/quiz_name 小区老王" in fake_telegram.sent(5201)[-1].params["text"]
    post(served, message("/quiz_rank", 5201, 5201))
    assert "在群里发送 /quiz_rank" in fake_telegram.sent(5201)[-1].params["text"]
    from sqlalchemy import select

    with served["store"].engine.connect() as db:
        stored = "\n".join(str(v) for table in (quiz_answers, quiz_players) for row in db.execute(select(table))
                           for v in row)
    assert "13812345678" not in stored and "5201" not in stored


# -- WeChat Official Account and WeCom --------------------------------------------------------------

_openids = itertools.count(1)


def oa_say(served: dict[str, Any], openid: str, content: str, kind: str = "text", **fields: str) -> str:
    """One message to the Official Account; the passive reply's text."""
    status, reply = http(served["url"], OA, signed_query(), text_xml(content, openid=openid, kind=kind,
                                                                     **fields).encode())
    assert status == 200 and reply != "success", reply
    return content_of(reply)


def ask(served: dict[str, Any], openid: str) -> dict[str, Any]:
    """"答题": the question shown, as text with letters."""
    reply = oa_say(served, openid, "答题")
    question = question_of(reply)
    assert all(f"{'ABCD'[i]}. {choice}" in reply for i, choice in enumerate(question["choices"]))
    assert "回复字母作答" in reply and "退出" in reply
    return question


def reached(served: dict[str, Any], since: int) -> list[str]:
    return served["dialogue"].texts[since:]


@pytest.mark.parametrize("answer", ["{letter}", "{lower}", "{fullwidth}", "选{letter}"])
def test_oa_answer_by_letter(served: dict[str, Any], answer: str) -> None:
    openid = f"oQuiz{next(_openids)}"
    since = len(served["dialogue"].texts)
    question = ask(served, openid)
    letter = "ABCD"[question["answer"]]
    said = answer.format(letter=letter, lower=letter.lower(), fullwidth=chr(ord(letter) + 0xFEE0))
    reply = oa_say(served, openid, said)
    assert "答对了" in reply and question["explanation"] in reply and "回复“答题”再来一题" in reply
    assert reached(served, since) == []  # neither 答题 nor the letter went to the dialogue
    assert oa_say(served, openid, letter) == hotline_fallback_text()  # answered: a letter is a stray letter again


def test_oa_bad_answers_get_a_clear_reply_and_one_reminder(served: dict[str, Any]) -> None:
    openid = f"oQuiz{next(_openids)}"
    since = len(served["dialogue"].texts)
    question = ask(served, openid)
    letters = "、".join("ABCD"[:len(question["choices"]) - 1]) + f" 或 {'ABCD'[len(question['choices']) - 1]}"
    for bad in ("E", "选Z"):
        assert oa_say(served, openid, bad) == (f"这道题只有 {letters} 这几个选项，请回复其中一个字母；"
                                               "不想答了回复 退出")
    empty = oa_say(served, openid, "")
    assert "只能看文字" in empty and empty.endswith(f"请回复 {letters}；不想答了回复 退出")  # the one reminder
    assert "请回复" not in oa_say(served, openid, "", kind="location", Location_X="23.1", Location_Y="113.3",
                                  Scale="20", Label="某小区")
    long_text = "我" * 2500
    assert oa_say(served, openid, long_text).startswith("助手回答")
    assert reached(served, since) == ["我" * 2000]  # the long text went to the dialogue, cut as always
    reply = oa_say(served, openid, "ｂ" if question["answer"] == 1 else "A")  # still open: the letter answers it
    assert "答对了" in reply or "没答对" in reply
    assert oa_say(served, openid, "退出").startswith("助手回答")  # nothing open: 退出 is just a message


def test_oa_a_question_mid_quiz_is_answered_first_then_reminded(served: dict[str, Any],
                                                                fake_wechat: FakeWeChat) -> None:
    openid = f"oQuiz{next(_openids)}"
    ask(served, openid)
    reply = oa_say(served, openid, "刚才有人让我转账到安全账户")
    assert reply.startswith("助手回答") and "96110" in reply  # the consultation first
    assert reply.endswith("；不想答了回复 退出")
    picture = oa_say(served, openid, "", kind="image", PicUrl="http://mmbiz.example/1.jpg", MediaId="no-such-media")
    assert "96110" in picture and "请回复" not in picture  # the reminder was given once
    assert oa_say(served, openid, "退出").startswith("好的，这道题不答了")
    assert oa_say(served, openid, "B") == hotline_fallback_text()


def test_oa_picture_while_a_question_waits_gets_its_answer_and_the_reminder(served: dict[str, Any]) -> None:
    openid = f"oQuiz{next(_openids)}"
    ask(served, openid)
    status, reply = http(served["url"], OA, signed_query(), image_xml("missing-media", openid).encode())
    text = content_of(reply)
    assert status == 200 and "96110" in text and "；不想答了回复 退出" in text


def test_oa_question_expires_after_thirty_minutes(served: dict[str, Any], clock: Clock) -> None:
    openid = f"oQuiz{next(_openids)}"
    since = len(served["dialogue"].texts)
    ask(served, openid)
    clock.offset = OPEN_FOR + timedelta(minutes=1)
    try:
        assert oa_say(served, openid, "A") == hotline_fallback_text()  # a stray letter, as without a quiz
    finally:
        clock.offset = timedelta()
    assert reached(served, since) == []


def test_oa_answers_in_a_sentence_that_starts_with_the_word_go_to_the_dialogue(served: dict[str, Any]) -> None:
    openid = f"oQuiz{next(_openids)}"
    assert oa_say(served, openid, "答题送红包是真的吗").startswith("助手回答")
    assert "已答对 0 题" in oa_say(served, openid, "答题成绩")
    assert "老王" in oa_say(served, openid, "答题昵称 老王")
    assert "去掉" in oa_say(served, openid, "答题昵称 取消")


def test_wecom_answer_by_letter_encrypted(served: dict[str, Any]) -> None:
    crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)

    def say(content: str) -> str:
        inner = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[gridquiz01]]>"
                 f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                 f"<Content><![CDATA[{content}]]></Content><MsgId>{int(time.time() * 1000) + next(_openids)}"
                 "</MsgId><AgentID>1000002</AgentID></xml>")
        envelope = crypto.encrypt_message(inner, str(next(_openids)), str(int(time.time())))
        status, reply = http(served["url"], WECOM, wecom_query(crypto, envelope), envelope.encode())
        assert status == 200
        fields = xmltodict.parse(reply)["xml"]
        return content_of(crypto.decrypt_message(reply, fields["MsgSignature"], fields["TimeStamp"],
                                                 fields["Nonce"]))

    question = question_of(say("答题"))
    reply = say(f"选{'ABCD'[(question['answer'] + 1) % len(question['choices'])]}")
    assert "没答对" in reply and question["explanation"] in reply
    assert served["store"].standing("wecom", "wecom:gridquiz01").answered == 1


def test_wechat_players_are_stored_only_as_hashes(served: dict[str, Any]) -> None:
    from sqlalchemy import select

    openid = "oQuizPrivacy13812345678"
    ask(served, openid)
    with served["store"].engine.connect() as db:
        stored = "\n".join(str(v) for table in (quiz_answers, quiz_players) for row in db.execute(select(table))
                           for v in row)
    assert "oQuiz" not in stored and "13812345678" not in stored and "gridquiz" not in stored


def test_a_campaigns_question_is_what_quiz_asks_in_that_group_and_answers_count_for_it(
        served: dict[str, Any], fake_telegram: FakeTelegram) -> None:
    """A 宣传 campaign posted a question to the group today: a member's /quiz there asks it, and the answers
    count for that campaign in the officers' results (bot.campaigns.todays_question / campaign_for)."""
    from bot import campaigns
    from bot.store import engine

    group, wanted = GROUP - 7, QUESTIONS[-1]
    moment = now()
    with engine(served["db"]).begin() as db:
        campaign = db.execute(campaigns.campaigns.insert().values(
            name="每日一题", kind="quiz", content=wanted["id"], regions="全部", channels="telegram", schedule="daily",
            at="09:00", quiet_start="21:30", quiet_end="08:00", created_by="web:wang", created_at=moment,
            active=True, active_since=moment)).inserted_primary_key[0]
        db.execute(campaigns.campaign_runs.insert().values(
            campaign_id=campaign, day=served["store"].today(), channel="telegram", chat_id=str(group),
            content_id=wanted["id"], scenario=wanted["scenario"], created_at=moment))
    post(served, message("/quiz", group, 8101))
    [posted] = fake_telegram.sent(group)
    assert question_of(posted.params["text"])["id"] == wanted["id"]
    right = letter_buttons(posted.params)[wanted["answer"]]["callback_data"]
    assert "答对了" in alert_of(fake_telegram, press(served, 8102, group, right))["text"]
    results = served["store"].scenario_results(campaign_id=campaign)
    assert [(r.scenario, r.answered, r.right) for r in results] == [(wanted["scenario"], 1, 1)]
