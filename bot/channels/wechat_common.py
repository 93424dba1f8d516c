"""What the WeChat Official Account and WeCom connectors share.

- A callback is admitted in a fixed order (:func:`admit`): its ``timestamp`` must be within
  ``TIMESTAMP_WINDOW`` seconds of now, its body at most ``MAX_BODY_BYTES`` (413 without reading
  further), its signature valid, and its (timestamp, nonce, signature) not already used with
  another body (:class:`ReplayGuard`). The plaintext signature covers only the token, timestamp
  and nonce, so without the replay check a captured signature would carry any body.
- XML from the network is checked with defusedxml before anything parses it: DTDs, entity
  expansion and external entities are refused (an XML bomb never expands). Malformed bodies
  get 400; only the kind of error is logged, never the body.
- WeChat waits 5 s for the passive reply and retries the same message three times:
  :class:`PassiveOrLater` answers passively when Rasa is fast, otherwise says ``success`` and
  delivers the answer later through the customer-service API; :class:`SeenMessages` makes a
  retried message processed once and answered once.
- A resident's text goes through :func:`bot.inbound.clean_text`; a cut-off text is still
  answered, followed by a note that only the first part was read.
- Rasa may reply in several messages; WeChat's passive reply is one, so they are merged.
- A picture (``MsgType`` image) is fetched with the media API (:func:`fetch_media`, at most
  ``MAX_IMAGE_BYTES``, in memory) and read (:mod:`bot.channels.pictures`) inside the same 5-second
  rule: the line of what was read and the consultation come passively or later, like a text's.
- 答题 (:class:`TextQuiz`) is answered here, before Rasa: "答题" asks a question, the next letter
  answers it. Everything else goes to Rasa as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any, Awaitable, Callable, Coroutine, Iterable

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sqlalchemy.exc import SQLAlchemyError
from wechatpy.exceptions import InvalidSignatureException

from bot.channels.pictures import answer_picture
from bot.channels.seen import ExpiringMap, SeenMessages, SharedFirst
from bot.fallback import TRUNCATED_NOTICE, OnNewMessage, response_text, with_safety_net
from bot.inbound import MAX_TEXT_CHARS, CleanText, clean_text, normalise
from bot.ocr import MAX_IMAGE_BYTES, NOT_RECEIVED, Reading
from bot.quiz import (
    OPEN_FOR,
    BadName,
    QuizStore,
    asked_scenario,
    letter_of,
    letters_for,
    opts_out,
    result_text,
    standing_text,
)
from bot.senders import utf8_truncate
from core.campaign import LETTERS, render_question

logger = logging.getLogger(__name__)

PASSIVE_REPLY_BYTES = 2048  # one WeChat text message
SUCCESS = "success"  # tells WeChat "received, no passive reply"
MAX_BODY_BYTES = 64 * 1024  # WeChat's XML callbacks are a few KB at most
TIMESTAMP_WINDOW = 300.0  # seconds a callback's timestamp may differ from our clock
MEDIA_SECONDS = 30.0  # a picture download that trickles longer is given up
MEDIA_CHUNK = 64 * 1024
TOKEN_ERRCODES = {40001, 40014, 42001}  # invalid or expired access token: fetch a new one, try once more


class UnsafeXml(ValueError):
    """The body is not XML we are willing to parse."""


def checked_xml(body: bytes | str) -> str:
    """The body as text, after defusedxml accepted it (no DTD, no entities, well-formed)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError, ValueError) as error:
        raise UnsafeXml(type(error).__name__) from error
    return text


def parsed_message(xml: str, parse: Callable[[str], Any]) -> Any:
    """A wechatpy message from checked XML; UnsafeXml when it is not a message from someone.

    wechatpy raises TypeError, AttributeError, KeyError or ValueError on odd shapes (an empty
    ``<xml/>``, a nested ``<MsgType>``, a MsgId that is not a number, the last only when the
    field is first read), and accepts a message without a sender; all of these are one kind of
    bad request here. The sender id is both the conversation key and the address
    of later replies, so an id that :func:`bot.inbound.normalise` would change (invisible or
    control characters: never in a real openid or WeCom user id) is refused, not rewritten.
    """
    try:
        message = parse(xml)
        for name in getattr(type(message), "_fields", {}):  # fields convert lazily: a bad MsgId raises here
            getattr(message, name)
    except Exception as error:  # wechatpy's parser raises many kinds on hostile shapes
        raise UnsafeXml(type(error).__name__) from error
    source = getattr(message, "source", None)
    if not isinstance(source, str) or not source or normalise(source) != source:
        raise UnsafeXml("no usable sender id")
    return message


def merge_replies(messages: list[dict[str, Any]]) -> list[str]:
    """Rasa's replies as WeChat texts: merged into as few messages as the byte limit allows.

    Buttons cannot be pressed in WeChat, so their titles are offered as words to reply with.
    """
    parts = []
    for message in messages:
        text = message.get("text") or ""
        titles = [str(b.get("title")) for b in message.get("buttons") or [] if b.get("title")]
        if titles:
            text += "\n（可以直接回复：" + " / ".join(titles) + "）"
        if text.strip():
            parts.append(text.strip())
    merged: list[str] = []
    for part in parts:
        candidate = f"{merged[-1]}\n\n{part}" if merged else part
        if merged and len(candidate.encode("utf-8")) <= PASSIVE_REPLY_BYTES:
            merged[-1] = candidate
        else:
            merged.append(utf8_truncate(part, PASSIVE_REPLY_BYTES))
    return merged


def bubbles(texts: Iterable[str]) -> list[dict[str, Any]]:
    """Plain texts as Rasa-style messages, for :func:`merge_replies`."""
    return [{"text": text} for text in texts]


class Seen(Enum):
    """What the replay guard knows about a signed request."""

    NEW = "new"
    RETRY = "retry"  # the same signature, nonce and timestamp with the same body
    REPLAY = "replay"  # the same signature, nonce and timestamp with another body


class ReplayGuard:
    """Refuses callbacks outside the timestamp window and signatures reused with another body.

    A key (timestamp, nonce, signature) is remembered with a digest of its body for twice the
    window: a request is only fresh while its timestamp is within the window, so by then it
    is refused anyway. A byte-identical repeat is WeChat retrying (or a harmless replay of a
    message already answered); it is told ``success`` like any retried MsgId. Only signed
    requests reach :meth:`check`, so only WeChat's own traffic fills the ``limit``.
    """

    COMPONENT = "replay_guard"

    def __init__(self, window: float = TIMESTAMP_WINDOW, limit: int = 100_000,
                 clock: Callable[[], float] = time.time, namespace: str = "wechat", url: str | None = None) -> None:
        self.window = window
        self._clock = clock
        self._keys = ExpiringMap(2 * window, limit, clock)
        self._namespace = namespace
        self._first = SharedFirst(self.COMPONENT, url)

    def fresh(self, timestamp: str) -> bool:
        """Whether a callback's ``timestamp`` (Unix seconds, ASCII digits) is within the window of now."""
        if not isinstance(timestamp, str) or not (timestamp.isascii() and timestamp.isdigit()):
            return False
        return abs(self._clock() - int(timestamp)) <= self.window

    def check(self, key: tuple[str, ...], body: bytes) -> Seen:
        """Record a verified request; NEW, a RETRY of the same body, or a REPLAY with another body."""
        digest = hashlib.sha256(body).hexdigest()
        known = self._keys.get(key)
        if known is None:
            self._keys.put(key, digest)
            known = self._recorded_elsewhere(key, digest)
            if known is None:
                return Seen.NEW
        return Seen.RETRY if known == digest else Seen.REPLAY

    def _recorded_elsewhere(self, key: tuple[str, ...], digest: str) -> str | None:
        """In a fleet, the digest another replica recorded first for ``key`` (None: this one is first).

        A replay sent to another replica than the original is caught there too; without Redis, or
        when it fails, each replica still refuses the replays it saw itself.
        """
        name = f"{self._namespace}:replay:" + hashlib.sha256("\x1f".join(key).encode()).hexdigest()
        claimed = self._first.claim(name, digest, int(2 * self.window) + 1)
        return None if claimed is None or claimed[0] else claimed[1]


async def bounded_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body of a streamed request, or None when it is larger than ``limit``.

    A declared Content-Length over the limit is refused before a byte is read (Sanic then
    discards the rest); a chunked body is read only up to the limit.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    request.stream.request_max_size = limit
    try:
        await request.receive_body()
    except PayloadTooLarge:
        return None
    return request.body or b""


ReadXml = Callable[[Request, bytes], str]
Parse = Callable[[str], Any]


async def admit(request: Request, guard: ReplayGuard, channel: str, read_xml: ReadXml, parse: Parse,
                key_args: tuple[str, ...]) -> Any:
    """The parsed message of a callback, or the response that refuses or settles it.

    In this order, so nothing costly happens for a request that fails an earlier check: the
    timestamp window (403), the body size (413), the signature and the XML checks in
    ``read_xml`` (403 / 400), the replay guard on ``key_args`` (403; ``success`` for a
    byte-identical repeat), then ``parse`` (400).
    """
    args = request.args
    if not guard.fresh(args.get("timestamp", "")):
        logger.warning("%s callback with a timestamp outside the %ds window refused", channel, guard.window)
        return response.text("forbidden", status=403)
    body = await bounded_body(request)
    if body is None:
        logger.warning("%s callback body over %d bytes refused", channel, MAX_BODY_BYTES)
        return response.text("payload too large", status=413)
    try:
        xml = read_xml(request, body)
    except InvalidSignatureException:
        logger.warning("%s callback with a forged or missing signature refused", channel)
        return response.text("forbidden", status=403)
    except Exception as error:  # decryption and decoding raise many kinds on hostile bodies
        kind = error if isinstance(error, UnsafeXml) else type(error).__name__  # UnsafeXml says only the kind
        logger.warning("%s callback body refused: %s", channel, kind)
        return response.text("bad request", status=400)
    seen = guard.check(tuple(args.get(name, "") for name in key_args), body)
    if seen is Seen.REPLAY:
        logger.warning("%s callback reusing a signature with another body refused", channel)
        return response.text("forbidden", status=403)
    if seen is Seen.RETRY:
        logger.info("%s callback repeated byte for byte; already handled", channel)
        return response.text(SUCCESS)
    try:
        return parsed_message(xml, parse)
    except UnsafeXml as error:
        logger.warning("%s callback body refused: %s", channel, error)
        return response.text("bad request", status=400)


def fetch_media(client: Any, media_id: str, limit: int = MAX_IMAGE_BYTES,
                seconds: float = MEDIA_SECONDS) -> bytes | str:
    """A picture's bytes from ``GET {base}media/get`` (Official Account and WeCom alike), or the
    reader's problem to tell: ``too_big`` past ``limit`` (the rest is not read), :data:`NOT_RECEIVED`
    for an error answer, a network failure or a download slower than ``seconds``.

    Blocking (run it in a thread). ``client`` is the channel's wechatpy client, for its access token
    and API base; the body is streamed here because wechatpy would read any size into memory. Logs
    carry only error codes and kinds, never the media id's owner or the bytes.
    """
    for attempt in (1, 2):
        try:
            params = {"access_token": client.access_token, "media_id": media_id}
            with requests.get(f"{client.API_BASE_URL}media/get", params=params, stream=True,
                              timeout=client.timeout or 10) as reply:
                if reply.status_code != 200:
                    logger.warning("picture download answered HTTP %d", reply.status_code)
                    return NOT_RECEIVED
                declared = reply.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    return "too_big"
                data = bytearray()
                deadline = time.monotonic() + seconds
                for chunk in reply.iter_content(MEDIA_CHUNK):
                    data += chunk
                    if len(data) > limit:
                        return "too_big"
                    if time.monotonic() > deadline:
                        logger.warning("picture download slower than %.0f s given up", seconds)
                        return NOT_RECEIVED
        except Exception as error:  # requests and the token fetch raise many kinds; they may quote the URL
            logger.warning("picture download failed: %s", type(error).__name__)
            return NOT_RECEIVED
        code = _errcode(bytes(data))
        if code is None:
            return bytes(data)
        if code in TOKEN_ERRCODES and attempt == 1:
            try:
                client.fetch_access_token()
            except Exception as error:
                logger.warning("access token refresh for a picture failed: %s", type(error).__name__)
                return NOT_RECEIVED
            continue
        logger.warning("picture download refused: errcode %s", code)
        return NOT_RECEIVED
    return NOT_RECEIVED


def _errcode(data: bytes) -> int | None:
    """The errcode of a JSON error answer (an image never starts with ``{``); None for anything else."""
    if data.lstrip()[:1] != b"{":
        return None
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    try:
        return int(answer.get("errcode", -1))
    except (TypeError, ValueError):
        return -1


Deliver = Callable[[str, list[str]], Awaitable[None]]
Download = Callable[[], Awaitable[bytes | str]]


class PassiveOrLater:
    """Ask Rasa; answer within ``timeout`` seconds or hand the answer to ``deliver_later``."""

    def __init__(self, on_new_message: OnNewMessage, channel: str, timeout: float,
                 deliver_later: Deliver) -> None:
        self._on_new_message = with_safety_net(on_new_message)
        self._channel = channel
        self._timeout = timeout
        self._deliver_later = deliver_later
        self._pending: set[asyncio.Task] = set()

    async def _ask(self, sender: str, text: CleanText, after: tuple[str, ...]) -> list[str]:
        collector = CollectingOutputChannel()
        await self._on_new_message(UserMessage(text.text, collector, sender, input_channel=self._channel))
        messages = collector.messages
        if text.truncated:  # after the answer, so 110 still comes first when money is gone
            messages = [*messages, {"text": TRUNCATED_NOTICE}]
        return merge_replies([*messages, *bubbles(after)])

    async def _read(self, sender: str, download: Download, after: tuple[str, ...]) -> list[str]:
        """A picture's answer as WeChat texts: what was read and the consultation, or why it could not be."""
        collector = CollectingOutputChannel()
        try:
            await answer_picture(await download(), self._consult, collector, sender, self._channel)
        except Exception as error:  # the download and the reader return problems; this is the last net
            logger.error("picture from %s failed: %s", sender, type(error).__name__)
            if not collector.messages:
                return merge_replies(bubbles([Reading(problem=NOT_RECEIVED).answer, *after]))
        return merge_replies([*collector.messages, *bubbles(after)])

    async def _consult(self, read: UserMessage) -> None:
        """The text read from a picture, cleaned and cut like a typed one (the NLU's length cap holds)."""
        cleaned = clean_text(read.text)
        await self._on_new_message(UserMessage(cleaned.text, read.output_channel, read.sender_id,
                                               input_channel=self._channel))
        if cleaned.truncated:
            await read.output_channel.send_text_message(read.sender_id, TRUNCATED_NOTICE)

    async def answer(self, sender: str, text: CleanText, after: tuple[str, ...] = ()) -> list[str] | None:
        """The texts to reply passively, or None when the answer will come later; ``after`` follows the
        answer (the quiz's reminder), never before it: when money is gone, 110 comes first."""
        return await self._in_time(sender, self._ask(sender, text, after))

    async def answer_image(self, sender: str, download: Download, after: tuple[str, ...] = ()) -> list[str] | None:
        """Like :meth:`answer` for a picture: the download and the reading count against the same
        window, so a slow one says ``success`` and its answer comes later."""
        return await self._in_time(sender, self._read(sender, download, after))

    async def _in_time(self, sender: str, work: Coroutine[Any, Any, list[str]]) -> list[str] | None:
        task = asyncio.create_task(work)
        done, _ = await asyncio.wait({task}, timeout=self._timeout)
        if done:
            return task.result()
        logger.info("slow answer for %s: replying later through the API", sender)
        self._pending.add(task)
        task.add_done_callback(lambda finished: self._later(sender, finished))
        return None

    def _later(self, sender: str, task: asyncio.Task) -> None:
        self._pending.discard(task)
        if task.cancelled() or task.exception():
            logger.error("slow answer for %s failed", sender)
            return
        delivery = asyncio.ensure_future(self._deliver_later(sender, task.result()))
        self._pending.add(delivery)
        delivery.add_done_callback(self._pending.discard)


def conversation_of(prefix: str, message: Any) -> str:
    """The conversation key of a message's sender (an openid or WeCom user id, normalised)."""
    return f"{prefix}:{normalise(message.source)}"


async def answer_message(message: Any, seen: SeenMessages, answerer: PassiveOrLater, conversation: str,
                         text: object, welcome_event: str, picture: Download | None = None,
                         quiz: TextQuiz | None = None) -> list[str] | None:
    """Texts for a passive reply to a parsed WeChat/WeCom message, or None for ``success``.

    A retried message (same MsgId) and events other than ``welcome_event`` get ``success``;
    答题 and its letters are answered by ``quiz`` before Rasa sees them; a picture (``picture``
    fetches it) is read and answered as its text; anything else without text gets the note of
    what the bot can read. ``text`` is whatever the XML carried (wechatpy gives a dict for nested
    elements); it is cleaned here.
    """
    key = str(getattr(message, "id", None) or f"{message.source}:{message.time}:{message.type}")
    if not seen.first_time(key):
        logger.info("retried message ignored")
        return None
    if message.type == "event":
        return [response_text("utter_wechat_welcome")] if getattr(message, "event", "") == welcome_event else None
    cleaned = clean_text(text if picture is None else None)
    turn = await quiz.turn(conversation, cleaned.text) if quiz is not None else QuizTurn()
    if turn.reply is not None:
        return merge_replies(bubbles(turn.reply))
    after = (turn.reminder,) if turn.reminder else ()
    if picture is not None:
        return await answerer.answer_image(conversation, picture, after)
    if not cleaned.text:
        return merge_replies(bubbles([response_text("utter_wechat_unsupported"), *after]))
    if cleaned.truncated:
        logger.info("text from %s cut to %d characters", conversation, MAX_TEXT_CHARS)
    return await answerer.answer(conversation, cleaned, after)


# -- 答题 by text ----------------------------------------------------------------------------------

QUIZ_START = re.compile(r"^(?:来|开始)?答题(?:\s*[:：]?\s*(?P<scenario>.+))?$")
QUIZ_NAME = re.compile(r"^答题昵称\s*[:：]?\s*(?P<name>.*)$", re.S)
QUIZ_SCORE_WORDS = frozenset({"答题成绩", "我的答题", "答题得分"})
QUIZ_EXIT_WORDS = frozenset({"退出", "退出答题", "不答了"})
QUIZ_MINUTES = int(OPEN_FOR.total_seconds() // 60)
QUIZ_HOW = f"请在 {QUIZ_MINUTES} 分钟内回复字母作答，例如：B。不想答了回复 退出"
QUIZ_AGAIN = "回复“答题”再来一题。"
QUIZ_EXITED = "好的，这道题不答了。想答题随时回复“答题”；遇到拿不准的事，打 96110 问问。"
QUIZ_EMPTY = "题库正在准备中，过一会儿再来试试。遇到拿不准的事，随时打 96110 问问。"
QUIZ_NAME_USAGE = "想用昵称上答题榜，请回复：答题昵称 加昵称，例如：答题昵称 小区老王"
QUIZ_NAME_SET = "好了，您的答题昵称是：{name}。不想显示了，回复“答题昵称 取消”。"
QUIZ_NAME_REMOVED = "好的，已经去掉您的答题昵称。"
QUIZ_NO_SUCH_LETTER = "这道题只有 {letters} 这几个选项，请回复其中一个字母；不想答了回复 退出"
QUIZ_REMINDER = "请回复 {letters}；不想答了回复 退出"


@dataclass(frozen=True)
class QuizTurn:
    """What the quiz makes of a message: its own ``reply`` (Rasa never sees the message), or nothing
    (Rasa answers as before), with the ``reminder`` to send after Rasa's answer when one is due."""

    reply: list[str] | None = None
    reminder: str | None = None


class TextQuiz:
    """答题 where there are no buttons (Official Account, WeCom app): "答题" asks, the next letter answers.

    The question waiting for a resident's letter is kept in the store (:meth:`bot.quiz.QuizStore.open`),
    so a letter that reaches another replica, or comes after a restart, still answers it; after
    :data:`bot.quiz.OPEN_FOR` it is forgotten. "A", "b", "Ａ", "选B" answer; a letter the question
    does not have ("E") is told which ones it has; "退出" closes it. Anything else while a question
    waits goes to Rasa as usual — a resident who asks about a scam mid-quiz must get the answer — with
    one reminder after it, once per question. A store that cannot be reached turns the quiz off
    for that message, never the consultation.
    """

    def __init__(self, channel: str, store: QuizStore | None = None) -> None:
        self.channel = channel
        self.store = store or QuizStore()

    async def turn(self, conversation: str, text: str) -> QuizTurn:
        try:
            return await asyncio.to_thread(self._turn, conversation, text)
        except SQLAlchemyError as error:
            logger.warning("quiz unavailable, message goes to the dialogue: %s", type(error).__name__)
            return QuizTurn()

    def _turn(self, user: str, text: str) -> QuizTurn:
        said = text.strip()
        naming = QUIZ_NAME.match(said)
        if naming:
            return QuizTurn([self._name(user, naming.group("name"))])
        if said in QUIZ_SCORE_WORDS:
            return QuizTurn([f"{standing_text(self.store.standing(self.channel, user))}{QUIZ_AGAIN}"])
        start = QUIZ_START.match(said)
        wanted = start.group("scenario") if start else None
        if start and (not wanted or asked_scenario(wanted)):  # "答题送红包是真的吗" is a question for the bot
            return QuizTurn([self._ask(user, asked_scenario(wanted or ""))])
        waiting = self.store.opened(self.channel, user)
        question = self.store.question(waiting.question_id) if waiting else None
        if question is None:
            return QuizTurn()
        if said in QUIZ_EXIT_WORDS:
            self.store.close(self.channel, user)
            return QuizTurn([QUIZ_EXITED])
        letter = letter_of(said)
        if letter is not None:
            index = LETTERS.find(letter)
            if not 0 <= index < len(question.choices):
                return QuizTurn([QUIZ_NO_SUCH_LETTER.format(letters=letters_for(question))])
            outcome = self.store.answer(self.channel, user, question.id, index)
            self.store.close(self.channel, user)
            return QuizTurn([f"{result_text(outcome)}\n{QUIZ_AGAIN}"] if outcome else [QUIZ_EXITED])
        if self.store.remind_once(self.channel, user):
            return QuizTurn(reminder=QUIZ_REMINDER.format(letters=letters_for(question)))
        return QuizTurn()

    def _ask(self, user: str, scenario: str | None) -> str:
        question = self.store.pick(self.channel, user, scenario) or self.store.pick(self.channel, user)
        if question is None:
            return QUIZ_EMPTY
        self.store.open(self.channel, user, question.id)
        return f"{render_question(question)}\n\n{QUIZ_HOW}"

    def _name(self, user: str, raw: str) -> str:
        if not raw.strip():
            return QUIZ_NAME_USAGE
        if opts_out(raw):
            self.store.forget_name(self.channel, user)
            return QUIZ_NAME_REMOVED
        try:
            return QUIZ_NAME_SET.format(name=self.store.set_name(self.channel, user, raw))
        except BadName as refusal:
            return f"{refusal}\n{QUIZ_NAME_USAGE}"
