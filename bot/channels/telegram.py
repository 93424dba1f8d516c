"""Telegram channel on python-telegram-bot 22: private consultations, quiet group helper, group registry.

Rasa's built-in Telegram channel (aiogram 2) shares one conversation per group and breaks
proactive messages, so this connector is our own and has its own name, ``telegram_bot``:

- webhook ``/webhooks/telegram_bot/webhook``, checked against ``X-Telegram-Bot-Api-Secret-Token``;
- polling (``TELEGRAM_MODE=polling``, ``make telegram``) for development without a public URL;
  both feed :meth:`TelegramBridge.handle`.

Private chats go to Rasa message by message. In groups the bot is quiet: it answers when
mentioned, when replied to, or on ``/check``; it warns on its own only about forwarded or
long messages that are high risk by evidence (a demand or a known scam script, never the
topic alone) with high confidence. Each resident keeps their own
conversation inside a group (sender ``tg:<chat>:<user>``); replies go to the group.

A photo (or an image sent as a file) is read like its text (:mod:`bot.channels.pictures`):
in a private chat always, in a group only when the bot is asked (``/check`` in reply to it,
a caption that mentions the bot, a reply to the bot); the group's auto-warning never reads
pictures. The largest size Telegram offers within the reader's limit is downloaded into
memory, never to disk. Other media (stickers, voice…) get the note of what the bot reads.

At the door: an update already handled (same ``update_id``, Telegram redelivering or a
replay) is acknowledged and dropped; every text goes through :func:`bot.inbound.clean_text`
(a cut-off text is answered, then told only the first part was read); buttons that act
(the officer's alert confirm/cancel) carry an HMAC (:class:`CallbackSigner`), so forged
callback data changes nothing. Logs carry ids and lengths, never a resident's words.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import (
    Bot,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, ExtBot

from bot.alerts.service import AlertService, InvalidAlert, Refused
from bot.channels.pictures import answer_picture
from bot.channels.seen import SeenMessages
from bot.config import TelegramConfig
from bot.fallback import TRUNCATED_NOTICE, OnNewMessage, failure, hotline_fallback_text, response_text, with_safety_net
from bot.inbound import MAX_TEXT_CHARS, clean_text, normalise
from bot.nlu_client import case_from_parse
from bot.ocr import MAX_IMAGE_BYTES, NOT_RECEIVED
from bot.store import GroupRegistry
from core.knowledge import scenarios
from core.replies import explain_scenario
from core.verdict import warrants_group_warning

logger = logging.getLogger(__name__)

CHANNEL = "telegram_bot"
REGISTRY_CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
SEND_ATTEMPTS = 4
DETAILS_PREFIX = "s_"
ALERT_CALLBACK = "alert:"
CALLBACK_BYTES = 64  # Telegram's limit on callback_data
UPDATE_MEMORY = 20_000  # update ids remembered for de-duplication
UPDATE_TTL = 24 * 3600  # Telegram keeps an undelivered update for 24 hours
LIKE_THIS = re.compile(r"像这个|像这种|是这个|是这种|这个是不是|通报里")

Parse = Callable[[str], Awaitable[dict[str, Any]]]
Picture = PhotoSize | Document


@dataclass
class AlertDraft:
    """An alert an officer is writing step by step in a private chat."""

    title: str | None = None
    body: str | None = None
    regions: str | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(6))  # which preview a button belongs to


def sender_id(chat_id: int, user_id: int | None, group: bool) -> str:
    """Conversation key: one per private chat, one per resident inside a group."""
    return f"tg:{chat_id}:{user_id}" if group and user_id else f"tg:{chat_id}"


def chat_of(recipient_id: str) -> int:
    """The chat a conversation's replies go to (the group for group conversations)."""
    return int(recipient_id.split(":")[1])


def picture_of(message: Message | None) -> Picture | str | None:
    """The picture a message carries, or None: the largest photo size within the reader's limit, or an
    image sent as a file; ``"too_big"`` when there is a picture but no size of it fits (told, not fetched)."""
    if message is None:
        return None
    if message.photo:
        fitting = [size for size in message.photo if (size.file_size or 0) <= MAX_IMAGE_BYTES]
        if not fitting:
            return "too_big"
        return max(fitting, key=lambda size: (size.width * size.height, size.file_size or 0))
    document = message.document
    if document is not None and (document.mime_type or "").lower().startswith("image/"):
        return "too_big" if (document.file_size or 0) > MAX_IMAGE_BYTES else document
    return None


def file_base_url(api_base_url: str) -> str:
    """Where the Bot API serves files for ``api_base_url`` (``…/bot`` becomes ``…/file/bot``, as on
    api.telegram.org and a local Bot API server), so that downloads go where the API calls go."""
    head, found, tail = api_base_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if found and not tail else "https://api.telegram.org/file/bot"


def callback_key(token: str) -> bytes:
    """The key that signs callback data, derived from the bot token (the one secret every mode has)."""
    return hmac.new(token.encode(), b"fraudbot telegram callback data v1", hashlib.sha256).digest()


class CallbackSigner:
    """Signs and checks the callback data of buttons that act.

    Telegram passes callback data back as the client sent it, and a modified client can send
    any data for any button; a button that changes state (the officer's alert confirm and
    cancel) therefore carries an HMAC over the user who may press it and what it does.
    """

    MAC_CHARS = 16  # 96 bits, base64url

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, user_id: int, data: str) -> str:
        digest = hmac.new(self._key, f"{user_id}:{data}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:12]).decode()

    def sign(self, user_id: int, data: str) -> str:
        """``data`` with its MAC appended; at most Telegram's 64 bytes."""
        signed = f"{data}:{self._mac(user_id, data)}"
        if len(signed.encode()) > CALLBACK_BYTES:
            raise ValueError("callback data too long to sign")
        return signed

    def verify(self, user_id: int, signed: str) -> str | None:
        """The data if ``signed`` was signed for ``user_id``; None for anything forged."""
        data, _, mac = signed.rpartition(":")
        if not data or len(mac) != self.MAC_CHARS:
            return None
        return data if hmac.compare_digest(mac.encode(), self._mac(user_id, data).encode()) else None


def keyboard(buttons: list[dict[str, Any]] | None) -> InlineKeyboardMarkup | None:
    """Rasa buttons as an inline keyboard: payload buttons become callbacks, URL buttons links."""
    if not buttons:
        return None
    rows = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")
        if button.get("url"):
            rows.append([InlineKeyboardButton(title, url=button["url"])])
        elif len(str(button.get("payload", "")).encode()) <= CALLBACK_BYTES:
            rows.append([InlineKeyboardButton(title, callback_data=str(button["payload"]))])
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramSender:
    """Sends through the Bot API within Telegram's flood limits, retrying what can be retried.

    PTB's AIORateLimiter keeps ~30 messages/s overall and 20/min per group and waits out
    ``RetryAfter``; network errors and 5xx answers are retried here with backoff.
    """

    def __init__(self, bot: Bot, backoff: float = 0.5) -> None:
        self.bot = bot
        self._backoff = backoff

    async def send(self, chat_id: int, text: str, buttons: list[dict[str, Any]] | None = None,
                   reply_to: int | None = None) -> Message | None:
        """Send one message; None if Telegram refuses it for good (bot blocked, chat gone)."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
                return await self.bot.send_message(chat_id, text[:4096], reply_markup=keyboard(buttons),
                                                   reply_parameters=reply)
            except RetryAfter as error:  # only when the rate limiter gave up retrying
                await asyncio.sleep(float(getattr(error, "retry_after", 1) or 1))
            except (TimedOut, NetworkError) as error:
                logger.warning("send to %s failed (attempt %d): %s", chat_id, attempt, error)
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            except Forbidden as error:
                logger.warning("chat %s refuses messages: %s", chat_id, error)
                return None
        logger.error("gave up sending to %s after %d attempts", chat_id, SEND_ATTEMPTS)
        return None


class TelegramOutput(OutputChannel):
    """Sends Rasa's replies to the chat of a conversation (used for proactive messages too)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, sender: TelegramSender, reply_to: int | None = None) -> None:
        self._sender = sender
        self._reply_to = reply_to

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._sender.send(chat_of(recipient_id), text, reply_to=self._reply_to)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._sender.send(chat_of(recipient_id), text, buttons, reply_to=self._reply_to)


class TelegramBridge:
    """Turns Telegram updates into Rasa messages and Rasa replies into Telegram messages."""

    def __init__(self, config: TelegramConfig, sender: TelegramSender, registry: GroupRegistry,
                 on_new_message: OnNewMessage, parse: Parse, alerts: AlertService | None = None) -> None:
        self.config = config
        self.sender = sender
        self.registry = registry
        self._on_new_message = with_safety_net(on_new_message)
        self._parse = parse
        self.alerts = alerts or AlertService()
        self._drafts: dict[int, AlertDraft] = {}  # officer's user id -> alert being written
        self._updates = SeenMessages(ttl=UPDATE_TTL, limit=UPDATE_MEMORY)
        self.signer = CallbackSigner(callback_key(config.token))

    @property
    def bot(self) -> Bot:
        return self.sender.bot

    async def handle(self, data: Any) -> None:
        """Handle one raw update (a dict from the webhook or getUpdates); never raises."""
        try:
            update = Update.de_json(data, self.bot) if isinstance(data, dict) else None
        except Exception as error:  # PTB raises many kinds on malformed input; none may escape
            logger.warning("ignoring malformed update: %s", type(error).__name__)
            return
        if update is None:
            logger.warning("ignoring update that is not an object")
            return
        if not self._updates.first_time(update.update_id):
            logger.info("update %s already handled; ignored", update.update_id)
            return
        try:
            if update.my_chat_member:
                self._membership(update)
            elif update.callback_query:
                await self._button(update)
            elif update.message:
                await self._message(update.message)
        except Exception as error:
            logger.error("update %s failed: %s", update.update_id, failure(error))

    # -- membership -------------------------------------------------------------------------

    def _membership(self, update: Update) -> None:
        change = update.my_chat_member
        chat = change.chat
        if chat.type not in GROUP_TYPES:
            return
        status = change.new_chat_member.status
        if status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
            self.registry.record(REGISTRY_CHANNEL, str(chat.id), chat.title or "")
            logger.info("joined group %s", chat.id)
        elif status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
            self.registry.retire(REGISTRY_CHANNEL, str(chat.id))
            logger.info("left group %s", chat.id)

    # -- buttons ----------------------------------------------------------------------------

    async def _button(self, update: Update) -> None:
        query = update.callback_query
        try:
            await query.answer()
        except TelegramError as error:
            logger.warning("could not answer callback: %s", error)
        if not query.data or query.message is None:
            return
        if query.data.startswith(ALERT_CALLBACK):
            await self._alert_decision(query.message.chat.id, query.from_user.id, query.data)
            return
        payload = clean_text(query.data).text
        if not payload:
            return
        chat = query.message.chat
        group = chat.type in GROUP_TYPES
        await self._to_rasa(payload, chat.id, query.from_user.id, group,
                            reply_to=query.message.message_id if group else None)

    # -- messages ---------------------------------------------------------------------------

    async def _message(self, message: Message) -> None:
        chat = message.chat
        group = chat.type in GROUP_TYPES
        registered = self.registry.get(REGISTRY_CHANNEL, str(chat.id)) if group else None
        if group and registered is None:
            self.registry.record(REGISTRY_CHANNEL, str(chat.id), chat.title or "")
        raw = message.text or message.caption or ""
        cleaned = clean_text(raw)
        text, truncated = cleaned.text, cleaned.truncated
        user_id = message.from_user.id if message.from_user else None
        picture = picture_of(message)
        if not group and user_id in self._drafts and not text.startswith("/"):
            await self._alert_step(chat.id, user_id, normalise(raw))  # an officer's alert is not cut
        elif text.startswith("/"):
            await self._command(message, text, group, user_id, truncated)
        elif picture is not None and not group:
            await self._read_picture(picture, chat.id, user_id, group=False)
        elif picture is not None and self._addressed(message):
            await self._read_picture(picture, chat.id, user_id, group=True, reply_to=message.message_id,
                                     alert=self._alert_context(message, text))
        elif not text.strip():
            if not group:
                await self.sender.send(chat.id, response_text("utter_not_text"))
        elif not group:
            await self._to_rasa(text, chat.id, user_id, group=False, truncated=truncated)
        elif self._addressed(message):
            await self._to_rasa(self._without_mention(text), chat.id, user_id, group=True,
                                reply_to=message.message_id, alert=self._alert_context(message, text),
                                truncated=truncated)
        elif registered is None or registered.autowarn:
            await self._maybe_warn(message, text)

    def _addressed(self, message: Message) -> bool:
        """Mentioned by @username (in the text or a picture's caption), or a reply to one of the bot's messages."""
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == self.bot.id:
            return True
        mention = f"@{self.bot.username}".lower()
        for entity in message.entities or ():
            if entity.type == MessageEntityType.MENTION and message.parse_entity(entity).lower() == mention:
                return True
        for entity in message.caption_entities or ():
            if entity.type == MessageEntityType.MENTION and message.parse_caption_entity(entity).lower() == mention:
                return True
        return mention in (message.text or message.caption or "").lower()

    def _without_mention(self, text: str) -> str:
        stripped = re.sub(rf"@{re.escape(self.bot.username)}", "", text, flags=re.IGNORECASE).strip()
        return stripped or "/greet"

    async def _command(self, message: Message, text: str, group: bool, user_id: int | None,
                       truncated: bool = False) -> None:
        head, _, rest = text.partition(" ")
        command, _, target = head[1:].partition("@")
        if target and target.lower() != (self.bot.username or "").lower():
            return  # a command for another bot in the group
        chat_id = message.chat.id
        reply_to = message.message_id if group else None
        command = command.lower()
        if command == "start":
            if rest.startswith(DETAILS_PREFIX):
                await self._details(chat_id, rest[len(DETAILS_PREFIX):].strip())
            else:
                await self._to_rasa("/greet", chat_id, user_id, group, reply_to)
        elif command == "help":
            await self._to_rasa("/ask_what_bot_can_do", chat_id, user_id, group, reply_to)
        elif command == "check":
            replied = message.reply_to_message
            picture = picture_of(replied if replied else message)  # the picture replied to, or sent with /check
            if picture is not None:
                await self._read_picture(picture, chat_id, user_id, group,
                                         reply_to=replied.message_id if replied else reply_to)
                return
            target = clean_text(replied.text or replied.caption or "") if replied else None
            target_text = target.text if target else rest
            if not target_text.strip():
                await self.sender.send(chat_id, response_text("utter_check_usage"), reply_to=reply_to)
            else:
                await self._to_rasa(target_text, chat_id, user_id, group,
                                    reply_to=replied.message_id if replied else reply_to,
                                    truncated=target.truncated if target else truncated)
        elif command in ("quiet", "autowarn") and group:
            await self._set_autowarn(message, enabled=command == "autowarn")
        elif command == "alert":
            await self._alert(message, user_id)
        elif command == "cancel" and user_id in self._drafts:
            self._drafts.pop(user_id, None)
            await self.sender.send(chat_id, "已取消，本次通报没有发出。")
        elif command == "alert_status" and not group:
            await self._alert_status(chat_id, user_id, rest)
        elif not group:
            await self._to_rasa(text, chat_id, user_id, group=False, truncated=truncated)

    async def _set_autowarn(self, message: Message, enabled: bool) -> None:
        chat_id = message.chat.id
        user_id = message.from_user.id if message.from_user else 0
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
            is_admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        except TelegramError as error:
            logger.warning("could not check admin rights in %s: %s", chat_id, error)
            is_admin = False
        if not is_admin:
            await self.sender.send(chat_id, response_text("utter_admins_only"), reply_to=message.message_id)
            return
        self.registry.set_autowarn(REGISTRY_CHANNEL, str(chat_id), enabled)
        text = response_text("utter_autowarn_on" if enabled else "utter_autowarn_off")
        await self.sender.send(chat_id, text, reply_to=message.message_id)

    async def _alert(self, message: Message, user_id: int | None) -> None:
        """/alert: a guided alert for officers on the roster, in a private chat only."""
        try:
            if message.chat.type != ChatType.PRIVATE:
                raise Refused("请在和我的私聊里发布警情通报。")
            self.alerts.authorize("telegram", user_id)
        except Refused as refusal:
            await self.sender.send(message.chat.id, str(refusal), reply_to=message.message_id)
            return
        self._drafts[user_id] = AlertDraft()
        await self.sender.send(message.chat.id, "请发送通报内容：第一行是标题，下面是正文。\n随时发送 /cancel 取消。")

    async def _alert_step(self, chat_id: int, user_id: int, text: str) -> None:
        draft = self._drafts[user_id]
        if draft.title is None:
            title, _, body = text.strip().partition("\n")
            if not body.strip():
                await self.sender.send(chat_id, "第一行是标题，下面要有正文。请重新发送。")
                return
            draft.title, draft.body = title.strip(), body.strip()
            await self.sender.send(chat_id, "发往哪些地区？请回复地区名，多个用逗号分开；发往所有群请回复“全部”。")
        elif draft.regions is None:
            draft.regions = text.strip()
            count = self.alerts.count_targets(draft.regions)
            preview = f"【警情通报】{draft.title}\n\n{draft.body}"
            buttons = [{"title": "确认发送", "payload": self._alert_button(user_id, draft, "confirm")},
                       {"title": "取消", "payload": self._alert_button(user_id, draft, "cancel")}]
            await self.sender.send(chat_id, f"预览：\n\n{preview}\n\n发往：{draft.regions}（共 {count} 个群）", buttons)

    def _alert_button(self, user_id: int, draft: AlertDraft, action: str) -> str:
        """Signed callback data of a preview's button: only this officer, only this draft."""
        return self.signer.sign(user_id, f"{ALERT_CALLBACK}{action}:{draft.token}")

    async def _alert_decision(self, chat_id: int, user_id: int, data: str) -> None:
        verified = self.signer.verify(user_id, data)
        if verified is None:
            logger.warning("forged alert button from user %s refused (%d bytes)", user_id, len(data.encode()))
            return
        action, _, token = verified[len(ALERT_CALLBACK):].partition(":")
        draft = self._drafts.get(user_id)
        if draft is None or draft.regions is None or draft.token != token:
            await self.sender.send(chat_id, "这个按钮已经失效了。要发通报，请重新发送 /alert。")
            return
        self._drafts.pop(user_id, None)
        if action != "confirm":
            await self.sender.send(chat_id, "已取消，本次通报没有发出。")
            return
        try:
            officer = self.alerts.authorize("telegram", user_id)
            alert_id = self.alerts.create(officer, draft.title, draft.body, draft.regions,
                                          expires_at=self.alerts.expires_in(72))
        except (Refused, InvalidAlert) as error:
            await self.sender.send(chat_id, str(error))
            return
        await self.sender.send(chat_id, f"已提交，编号 #{alert_id}，正在推送。"
                                        f"发送 /alert_status {alert_id} 查看送达情况。")

    async def _alert_status(self, chat_id: int, user_id: int | None, argument: str) -> None:
        try:
            self.alerts.authorize("telegram", user_id)
            report = self.alerts.status(int(argument.strip()))
        except Refused as refusal:
            await self.sender.send(chat_id, str(refusal))
            return
        except (InvalidAlert, ValueError):
            await self.sender.send(chat_id, "请写上通报编号，例如 /alert_status 12")
            return
        names = {"delivered": "已送达", "pending": "待发送", "sending": "发送中", "failed": "失败",
                 "cancelled": "已取消", "uncertain": "不确定是否送达"}
        lines = [f"通报 #{report['id']}《{report['title']}》" + ("（已撤回）" if report["recalled"] else "")]
        for channel, states in report["channels"].items():
            counts = "，".join(f"{names.get(state, state)} {count}" for state, count in states.items())
            lines.append(f"· {channel}：{counts}")
        lines += [f"  失败：{p['chat_id']} {p['last_error']}" for p in report["problems"][:10]]
        await self.sender.send(chat_id, "\n".join(lines))

    def _alert_context(self, message: Message, text: str) -> dict[str, Any] | None:
        """The police alert a resident is asking about: the one replied to, or the group's latest for 像这个吗."""
        replied = message.reply_to_message
        alert = None
        if replied is not None:
            alert = self.alerts.alert_for_message(REGISTRY_CHANNEL, str(message.chat.id), str(replied.message_id))
        if alert is None and LIKE_THIS.search(text):
            alert = self.alerts.latest_for(REGISTRY_CHANNEL, str(message.chat.id))
        return {"id": alert.id, "title": alert.title, "scenario": alert.scenario} if alert else None

    async def _details(self, chat_id: int, scenario: str) -> None:
        """The full explanation of a scenario, for the 查看详情 button of a group warning."""
        if scenario not in scenarios() or scenario == "none":
            await self._to_rasa("/greet", chat_id, None, group=False)
            return
        for text in explain_scenario(scenario):
            await self.sender.send(chat_id, text)

    async def _maybe_warn(self, message: Message, text: str) -> None:
        """Warn the group (auto-warning on) about a forwarded or long message that is clearly a scam:
        high risk decided by a demand or a known scam script, never the topic alone
        (:func:`core.verdict.warrants_group_warning`)."""
        forwarded = message.forward_origin is not None
        if not forwarded and len(text.strip()) < self.config.autowarn_min_chars:
            return
        case = case_from_parse(await self._parse(text))
        info = case.named_scenario
        if info is None or not warrants_group_warning(case, self.config.autowarn_min_confidence):
            return
        logger.info("auto-warning in %s: %s", message.chat.id, case.scenario)
        warning = response_text("utter_group_warning").format(scenario_name=info.name)
        details = f"https://t.me/{self.bot.username}?start={DETAILS_PREFIX}{case.scenario}"
        buttons = [{"title": "查看详情", "url": details}]
        await self.sender.send(message.chat.id, warning, buttons, reply_to=message.message_id)

    # -- pictures ---------------------------------------------------------------------------

    async def _read_picture(self, picture: Picture | str, chat_id: int, user_id: int | None, group: bool,
                            reply_to: int | None = None, alert: dict[str, Any] | None = None) -> None:
        """Read a picture and answer as for its text: the line of what was read, then the same
        :meth:`_to_rasa` a typed message takes (same conversation, metadata, group filter and
        length cap); or why it could not be read."""
        data = picture if isinstance(picture, str) else await self._download(picture)

        async def consult(read: UserMessage) -> None:
            cleaned = clean_text(read.text)
            await self._to_rasa(cleaned.text, chat_id, user_id, group, reply_to=reply_to, alert=alert,
                                truncated=cleaned.truncated)

        await answer_picture(data, consult, TelegramOutput(self.sender, reply_to), sender_id(chat_id, user_id, group),
                             CHANNEL, {"chat_id": chat_id, "group": group, "alert": alert})

    async def _download(self, picture: Picture) -> bytes | str:
        """The picture's bytes, held in memory only; the problem to tell when Telegram cannot hand them over."""
        try:
            file = await self.bot.get_file(picture.file_id)
            if (file.file_size or 0) > MAX_IMAGE_BYTES:
                return "too_big"
            return bytes(await file.download_as_bytearray())
        except (TelegramError, RuntimeError) as error:  # RuntimeError: Telegram gave no file_path
            logger.warning("could not download a picture: %s", type(error).__name__)
            return NOT_RECEIVED

    # -- Rasa -------------------------------------------------------------------------------

    async def _to_rasa(self, text: str, chat_id: int, user_id: int | None, group: bool,
                       reply_to: int | None = None, alert: dict[str, Any] | None = None,
                       truncated: bool = False) -> None:
        """Send a cleaned text to Rasa and deliver its replies; never silent, never 'I don't understand' in a group.

        A text cut at MAX_TEXT_CHARS is answered first, then followed by the note that only the
        first part was read (the answer leads: for money already sent, 110 comes first).
        """
        collector = CollectingOutputChannel()
        conversation = sender_id(chat_id, user_id, group)
        await self._on_new_message(UserMessage(text, collector, conversation, input_channel=CHANNEL,
                                               metadata={"chat_id": chat_id, "group": group, "alert": alert}))
        replies = collector.messages
        if group:
            replies = self._for_group(replies)
        if truncated:
            replies = [*replies, {"text": TRUNCATED_NOTICE}]
        for reply in replies:
            await self.sender.send(chat_id, reply.get("text") or "", reply.get("buttons"), reply_to=reply_to)
        logger.debug("answered %s (%d characters%s)", conversation, len(text),
                     f", cut at {MAX_TEXT_CHARS}" if truncated else "")

    @staticmethod
    def _for_group(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Groups never read 'I did not understand': that becomes a short, calm line."""
        not_understood = {hotline_fallback_text(), response_text("utter_out_of_scope")}
        kept = [r for r in replies if r.get("text") not in not_understood]
        if len(kept) < len(replies) and not kept:
            return [{"text": response_text("utter_group_nothing_found")}]
        return kept


class TelegramInput(InputChannel):
    """The Rasa connector: configuration, webhook route, bot start-up and polling."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        return cls(TelegramConfig.from_env(credentials))

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self.sender: TelegramSender | None = None
        self._polling: asyncio.Task | None = None

    def _make_bot(self) -> ExtBot:
        return ExtBot(self.config.token, base_url=self.config.api_base_url,
                      base_file_url=file_base_url(self.config.api_base_url),
                      rate_limiter=AIORateLimiter(max_retries=3))

    def get_output_channel(self) -> OutputChannel | None:
        return TelegramOutput(self.sender) if self.sender else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("telegram_bot_webhook", __name__)
        state: dict[str, TelegramBridge] = {}

        @blueprint.listener("after_server_start")
        async def start(app: Any, _loop: Any) -> None:
            if not self.config.token:
                logger.warning("TELEGRAM_BOT_TOKEN not set: the Telegram channel is off")
                return
            bot = self._make_bot()
            await bot.initialize()
            self.sender = TelegramSender(bot)

            async def parse(text: str) -> dict[str, Any]:
                return await app.ctx.agent.parse_message(text)

            state["bridge"] = TelegramBridge(self.config, self.sender, GroupRegistry(), on_new_message, parse)
            if self.config.mode == "polling":
                await bot.delete_webhook()
                self._polling = asyncio.create_task(self._poll(state["bridge"]))
            elif self.config.public_url:
                await bot.set_webhook(f"{self.config.public_url}/webhooks/{CHANNEL}/webhook",
                                      secret_token=self.config.webhook_secret or None,
                                      allowed_updates=["message", "callback_query", "my_chat_member"])
            logger.info("Telegram bot @%s ready (%s)", bot.username, self.config.mode)

        @blueprint.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            if self._polling:
                self._polling.cancel()
            if self.sender:
                await self.sender.bot.shutdown()

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if state else "off"})

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            expected = self.config.webhook_secret
            given = request.headers.get(SECRET_HEADER, "")
            if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
                logger.warning("webhook call with a wrong or missing secret token refused")
                return response.text("forbidden", status=403)
            bridge = state.get("bridge")
            if bridge is None:
                return response.text("telegram channel not configured", status=503)
            try:
                data = request.json
            except Exception:  # malformed JSON: acknowledged so Telegram does not resend it
                logger.warning("webhook body is not JSON; ignored")
                return response.text("ok")
            await bridge.handle(data)
            return response.text("ok")

        return blueprint

    async def _poll(self, bridge: TelegramBridge) -> None:
        """getUpdates loop for development; the same handler as the webhook."""
        offset = None
        while True:
            try:
                updates = await bridge.bot.get_updates(offset=offset, timeout=20,
                                                       allowed_updates=["message", "callback_query",
                                                                        "my_chat_member"])
            except asyncio.CancelledError:
                raise
            except TelegramError as error:
                logger.warning("getUpdates failed: %s", error)
                await asyncio.sleep(2)
                continue
            for update in updates:
                offset = update.update_id + 1
                await bridge.handle(update.to_dict())

