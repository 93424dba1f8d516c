"""Telegram channel on python-telegram-bot 22's ``Application``: private consultations, quiet group helper,
group registry, the officers' /alert.

Rasa's built-in Telegram channel (aiogram 2) shares one conversation per group and breaks
proactive messages, so this connector is our own and has its own name, ``telegram_bot``. It
runs inside the Rasa server: a PTB ``Application`` (handlers, persistence, no JobQueue) is
initialised and started on the server's event loop before it serves, and stopped after. Updates
reach it two ways, both handled by the same handlers:

- webhook ``/webhooks/telegram_bot/webhook`` (production), checked against
  ``X-Telegram-Bot-Api-Secret-Token`` and handed to ``Application.process_update`` (the
  Application is built with ``updater(None)``, as PTB documents for a custom web server);
- long polling (``TELEGRAM_MODE=polling``, ``make telegram``) by PTB's ``Updater``, started on
  the same loop. ``Application.run_polling`` would want the event loop to itself, and here the
  Rasa server owns it (PTB: "unsuitable when combining PTB with other asyncio frameworks").

Private chats go to Rasa message by message. In groups the bot is quiet: it answers when
mentioned, when replied to, or on ``/check``; it warns on its own only about forwarded or
long messages that are high risk by evidence (a demand or a known scam script, never the
topic alone) with high confidence. Each resident keeps their own conversation inside a group
(sender ``tg:<chat>:<user>``); replies go to the group.

A photo (or an image sent as a file) is read like its text (:mod:`bot.channels.pictures`):
in a private chat always, in a group only when the bot is asked (``/check`` in reply to it,
a caption that mentions the bot, a reply to the bot); the group's auto-warning never reads
pictures. The largest size Telegram offers within the reader's limit is downloaded into
memory, never to disk. Other media (stickers, voice…) get the note of what the bot reads.

At the door: an update already handled (same ``update_id``, Telegram redelivering or a replay)
is dropped by the first handler group; every text goes through :func:`bot.inbound.clean_text`
(a cut-off text is answered, then told only the first part was read). The officers' /alert is
:mod:`bot.alerts.telegram_flow`; its buttons carry an HMAC (:class:`CallbackSigner`). Every
message the bot sends goes through the one Telegram sender (:class:`bot.senders.telegram.TelegramSender`:
shared budget, one retry policy). Database calls run in threads, off the server's loop. Logs
carry ids and lengths, never a resident's words.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup, Message, PhotoSize, Update
from telegram.constants import ChatMemberStatus, ChatType, MessageEntityType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BasePersistence,
    CallbackContext,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import health
from bot.alerts.service import AlertService
from bot.alerts.telegram_flow import AlertFlow, StorePersistence
from bot.channels.pictures import answer_picture
from bot.channels.seen import SeenMessages
from bot.channels.telegram_quiz import QuizChat
from bot.config import TelegramConfig
from bot.fallback import TRUNCATED_NOTICE, OnNewMessage, failure, hotline_fallback_text, response_text, with_safety_net
from bot.inbound import MAX_TEXT_CHARS, clean_text
from bot.nlu_client import case_from_parse
from bot.ocr import MAX_IMAGE_BYTES, NOT_RECEIVED
from bot.senders import DeliveryResult
from bot.senders.telegram import TelegramSender
from bot.store import GroupRegistry
from core.knowledge import scenarios
from core.replies import explain_scenario
from core.verdict import warrants_group_warning

logger = logging.getLogger(__name__)

CHANNEL = "telegram_bot"
REGISTRY_CHANNEL = "telegram"
HEALTH_COMPONENT = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
DETAILS_PREFIX = "s_"
CALLBACK_BYTES = 64  # Telegram's limit on callback_data
UPDATE_MEMORY = 20_000  # update ids remembered for de-duplication
UPDATE_TTL = 24 * 3600  # Telegram keeps an undelivered update for 24 hours
START_RETRY_MAX = 60.0  # seconds between attempts to reach Telegram at start-up, at most
LIKE_THIS = re.compile(r"像这个|像这种|是这个|是这种|这个是不是|通报里")
MESSAGES = filters.UpdateType.MESSAGE  # new messages only: an edit is not a new question

Parse = Callable[[str], Awaitable[dict[str, Any]]]
Picture = PhotoSize | Document
Handler = Callable[[Update, CallbackContext], Awaitable[Any]]


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


async def send(sender: TelegramSender, chat_id: int, text: str, buttons: list[dict[str, Any]] | None = None,
               reply_to: int | None = None) -> DeliveryResult:
    """One message through the one sender, Rasa-style buttons as an inline keyboard; a failure is logged."""
    result = await sender.send_message(chat_id, text, reply_markup=keyboard(buttons), reply_to_message_id=reply_to)
    if not result.ok:
        logger.warning("message to %s not delivered: %s", chat_id, result.error)
    return result


class StoredApplication(Application):
    """A PTB Application that writes its persistence right after each update.

    PTB writes persistence every ``update_interval`` seconds; an officer's draft must be in the
    store before Telegram gets its answer, so that a restart or another replica finds it.
    """

    async def process_update(self, update: object) -> None:
        await super().process_update(update)
        try:
            await self.update_persistence()
        except Exception as error:  # the store is down: the update was handled, its draft step is not kept
            health.degraded("telegram_persistence", failure(error))
        else:
            health.recovered("telegram_persistence")


def build_application(config: TelegramConfig, persistence: BasePersistence, polling: bool) -> Application:
    """The Application for ``config``: PTB's Updater only for polling (a webhook is fed by our route).

    httpx, under PTB, logs every request's URL at INFO, and a Bot API URL holds the bot token:
    its log is kept to warnings (PTB's own examples do the same).
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    builder = (Application.builder().application_class(StoredApplication).token(config.token)
               .base_url(config.api_base_url).base_file_url(file_base_url(config.api_base_url))
               .persistence(persistence).job_queue(None))
    if not polling:
        builder = builder.updater(None)
    return builder.build()


class TelegramOutput(OutputChannel):
    """Sends Rasa's replies to the chat of a conversation (used for proactive messages too)."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, sender: TelegramSender, reply_to: int | None = None) -> None:
        self._sender = sender
        self._reply_to = reply_to

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await send(self._sender, chat_of(recipient_id), text, reply_to=self._reply_to)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]],
                                     **kwargs: Any) -> None:
        await send(self._sender, chat_of(recipient_id), text, buttons, reply_to=self._reply_to)


class TelegramHandlers:
    """What the bot does with each kind of update, as PTB handlers (:meth:`register`)."""

    def __init__(self, config: TelegramConfig, sender: TelegramSender, registry: GroupRegistry,
                 on_new_message: OnNewMessage, parse: Parse, alerts: AlertService | None = None) -> None:
        self.config = config
        self.sender = sender
        self.registry = registry
        self._on_new_message = with_safety_net(on_new_message)
        self._parse = parse
        self._updates = SeenMessages(ttl=UPDATE_TTL, limit=UPDATE_MEMORY, namespace="telegram:update")
        self.signer = CallbackSigner(callback_key(config.token))
        self.flow = AlertFlow(alerts or AlertService(), self.signer, self.send)
        self._commands: dict[str, Handler] = {"start": self._start, "help": self._help, "check": self._check,
                                              "quiet": self._quiet, "autowarn": self._autowarn}
        self.quiz = QuizChat(sender, self.signer)  # 答题: /quiz, /quiz_rank, /quiz_name and the letter buttons
        self._commands.update(self.quiz.commands)

    @property
    def bot(self) -> Any:
        return self.sender.bot

    async def send(self, chat_id: int, text: str, buttons: list[dict[str, Any]] | None = None,
                   reply_to: int | None = None) -> DeliveryResult:
        return await send(self.sender, chat_id, text, buttons, reply_to)

    def register(self, application: Application) -> None:
        """Handler groups run in order, one handler each: -3 drops replays, -2 records groups, -1 reads an
        officer's draft state from the store; group 0 answers."""
        application.add_handler(TypeHandler(Update, self._first_time), group=-3)
        application.add_handler(MessageHandler(MESSAGES & filters.ChatType.GROUPS, self._remember_group), group=-2)
        application.add_handler(self.flow.refresher(), group=-1)
        application.add_handlers([
            ChatMemberHandler(self._membership, ChatMemberHandler.MY_CHAT_MEMBER),
            *self.flow.handlers(),
            *self.quiz.handlers(),
            CallbackQueryHandler(self._button),
            *(CommandHandler(name, callback, MESSAGES) for name, callback in self._commands.items()),
            MessageHandler(MESSAGES, self._message),
        ])
        application.add_error_handler(self._error)

    # -- the door ---------------------------------------------------------------------------

    async def _first_time(self, update: Update, _context: CallbackContext) -> None:
        if not self._updates.first_time(update.update_id):
            logger.info("update %s already handled; ignored", update.update_id)
            raise ApplicationHandlerStop

    async def _remember_group(self, update: Update, _context: CallbackContext) -> None:
        """A group the bot hears from is in the registry, even if it joined before the registry existed."""
        chat = update.effective_chat
        await asyncio.to_thread(self._record_if_new, str(chat.id), chat.title or "")

    def _record_if_new(self, chat_id: str, title: str) -> None:
        if self.registry.get(REGISTRY_CHANNEL, chat_id) is None:
            self.registry.record(REGISTRY_CHANNEL, chat_id, title)

    async def _error(self, update: object, context: CallbackContext) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update %s failed: %s", update_id, failure(context.error) if context.error else "?")

    # -- membership -------------------------------------------------------------------------

    async def _membership(self, update: Update, _context: CallbackContext) -> None:
        change = update.my_chat_member
        chat = change.chat
        if chat.type not in GROUP_TYPES:
            return
        status = change.new_chat_member.status
        if status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
            await asyncio.to_thread(self.registry.record, REGISTRY_CHANNEL, str(chat.id), chat.title or "")
            logger.info("joined group %s", chat.id)
        elif status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
            await asyncio.to_thread(self.registry.retire, REGISTRY_CHANNEL, str(chat.id))
            logger.info("left group %s", chat.id)

    # -- buttons ----------------------------------------------------------------------------

    async def _button(self, update: Update, _context: CallbackContext) -> None:
        """A Rasa button pressed: its payload goes to Rasa as the resident's next message."""
        query = update.callback_query
        try:
            await query.answer()
        except TelegramError as error:
            logger.warning("could not answer callback: %s", type(error).__name__)
        if not query.data or query.message is None:
            return
        payload = clean_text(query.data).text
        if not payload:
            return
        chat = query.message.chat
        group = chat.type in GROUP_TYPES
        await self._to_rasa(payload, chat.id, query.from_user.id, group,
                            reply_to=query.message.message_id if group else None)

    # -- commands ---------------------------------------------------------------------------

    async def _start(self, update: Update, _context: CallbackContext) -> None:
        message, group, user_id = _where(update)
        argument = _argument(message)
        if argument.startswith(DETAILS_PREFIX):
            await self._details(message.chat.id, argument[len(DETAILS_PREFIX):].strip())
        else:
            await self._to_rasa("/greet", message.chat.id, user_id, group, message.message_id if group else None)

    async def _help(self, update: Update, _context: CallbackContext) -> None:
        message, group, user_id = _where(update)
        await self._to_rasa("/ask_what_bot_can_do", message.chat.id, user_id, group,
                            message.message_id if group else None)

    async def _check(self, update: Update, _context: CallbackContext) -> None:
        """/check: the message replied to (its text or picture), a picture sent with it, or the text after it."""
        message, group, user_id = _where(update)
        chat_id, replied = message.chat.id, message.reply_to_message
        own = message.message_id if group else None
        reply_to = replied.message_id if replied else own
        picture = picture_of(replied if replied else message)  # the picture replied to, or sent with /check
        if picture is not None:
            await self._read_picture(picture, chat_id, user_id, group, reply_to=reply_to)
            return
        target = clean_text(replied.text or replied.caption or "") if replied else None
        text = target.text if target else _argument(message)
        truncated = target.truncated if target else clean_text(message.text or message.caption or "").truncated
        if not text.strip():
            await self.send(chat_id, response_text("utter_check_usage"), reply_to=own)
        else:
            await self._to_rasa(text, chat_id, user_id, group, reply_to=reply_to, truncated=truncated)

    async def _quiet(self, update: Update, context: CallbackContext) -> None:
        await self._switch_autowarn(update, enabled=False)

    async def _autowarn(self, update: Update, context: CallbackContext) -> None:
        await self._switch_autowarn(update, enabled=True)

    async def _switch_autowarn(self, update: Update, enabled: bool) -> None:
        """/quiet and /autowarn, for a group's administrators; in a private chat just a message to Rasa."""
        message, group, user_id = _where(update)
        chat_id = message.chat.id
        if not group:
            cleaned = clean_text(message.text or message.caption or "")
            await self._to_rasa(cleaned.text, chat_id, user_id, group=False, truncated=cleaned.truncated)
            return
        try:
            member = await self.bot.get_chat_member(chat_id, user_id or 0)
            is_admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
        except TelegramError as error:
            logger.warning("could not check admin rights in %s: %s", chat_id, type(error).__name__)
            is_admin = False
        if not is_admin:
            await self.send(chat_id, response_text("utter_admins_only"), reply_to=message.message_id)
            return
        await asyncio.to_thread(self.registry.set_autowarn, REGISTRY_CHANNEL, str(chat_id), enabled)
        text = response_text("utter_autowarn_on" if enabled else "utter_autowarn_off")
        await self.send(chat_id, text, reply_to=message.message_id)

    async def _command_text(self, update: Update, context: CallbackContext, text: str, truncated: bool) -> None:
        """A text that is a command only once cleaned (invisible characters before the slash, or a
        picture's caption), or a command none of ours takes: ours are run, others go to Rasa in private."""
        message, group, user_id = _where(update)
        head = text[1:].split(maxsplit=1)[0] if text[1:].strip() else ""
        name, _, target = head.partition("@")
        if target and target.lower() != (self.bot.username or "").lower():
            return  # a command for another bot in the group
        command = self._commands.get(name.lower())
        if command is not None:
            context.args = _argument(message).split()
            await command(update, context)
        elif not group:
            await self._to_rasa(text, message.chat.id, user_id, group=False, truncated=truncated)

    # -- messages ---------------------------------------------------------------------------

    async def _message(self, update: Update, context: CallbackContext) -> None:
        message, group, user_id = _where(update)
        chat = message.chat
        cleaned = clean_text(message.text or message.caption or "")
        text, truncated = cleaned.text, cleaned.truncated
        picture = picture_of(message)
        if text.startswith("/"):
            await self._command_text(update, context, text, truncated)
        elif picture is not None and not group:
            await self._read_picture(picture, chat.id, user_id, group=False)
        elif picture is not None and self._addressed(message):
            await self._read_picture(picture, chat.id, user_id, group=True, reply_to=message.message_id,
                                     alert=await self._alert_context(message, text))
        elif not text.strip():
            if not group:
                await self.send(chat.id, response_text("utter_not_text"))
        elif not group:
            await self._to_rasa(text, chat.id, user_id, group=False, truncated=truncated)
        elif self._addressed(message):
            await self._to_rasa(self._without_mention(text), chat.id, user_id, group=True,
                                reply_to=message.message_id, alert=await self._alert_context(message, text),
                                truncated=truncated)
        else:
            registered = await asyncio.to_thread(self.registry.get, REGISTRY_CHANNEL, str(chat.id))
            if registered is None or registered.autowarn:
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

    async def _alert_context(self, message: Message, text: str) -> dict[str, Any] | None:
        """The police alert a resident is asking about: the one replied to, or the group's latest for 像这个吗."""
        alerts, chat_id = self.flow.service, str(message.chat.id)
        replied = message.reply_to_message
        alert = None
        if replied is not None:
            alert = await asyncio.to_thread(alerts.alert_for_message, REGISTRY_CHANNEL, chat_id,
                                            str(replied.message_id))
        if alert is None and LIKE_THIS.search(text):
            alert = await asyncio.to_thread(alerts.latest_for, REGISTRY_CHANNEL, chat_id)
        return {"id": alert.id, "title": alert.title, "scenario": alert.scenario} if alert else None

    async def _details(self, chat_id: int, scenario: str) -> None:
        """The full explanation of a scenario, for the 查看详情 button of a group warning."""
        if scenario not in scenarios() or scenario == "none":
            await self._to_rasa("/greet", chat_id, None, group=False)
            return
        for text in explain_scenario(scenario):
            await self.send(chat_id, text)

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
        await self.send(message.chat.id, warning, [{"title": "查看详情", "url": details}],
                        reply_to=message.message_id)

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
                             CHANNEL, await self._metadata(chat_id, group, alert))

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
                                               metadata=await self._metadata(chat_id, group, alert)))
        replies = collector.messages
        if group:
            replies = self._for_group(replies)
        if truncated:
            replies = [*replies, {"text": TRUNCATED_NOTICE}]
        for reply in replies:
            await self.send(chat_id, reply.get("text") or "", reply.get("buttons"), reply_to=reply_to)
        logger.debug("answered %s (%d characters%s)", conversation, len(text),
                     f", cut at {MAX_TEXT_CHARS}" if truncated else "")

    async def _metadata(self, chat_id: int, group: bool, alert: dict[str, Any] | None) -> dict[str, Any]:
        """What the dialogue may read of where a message came from; a registered group's area is the
        consultation's region (bot.retention counts per region; without one, the deployment's)."""
        metadata: dict[str, Any] = {"chat_id": chat_id, "group": group, "alert": alert}
        if group:
            found = await asyncio.to_thread(self.registry.get, REGISTRY_CHANNEL, str(chat_id))
            if found is not None and found.home_region:
                metadata["region"] = found.home_region
        return metadata

    @staticmethod
    def _for_group(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Groups never read 'I did not understand': that becomes a short, calm line."""
        not_understood = {hotline_fallback_text(), response_text("utter_out_of_scope")}
        kept = [r for r in replies if r.get("text") not in not_understood]
        if len(kept) < len(replies) and not kept:
            return [{"text": response_text("utter_group_nothing_found")}]
        return kept


def _where(update: Update) -> tuple[Message, bool, int | None]:
    """The message of an update, whether it is in a group, and who wrote it."""
    message = update.effective_message
    user = update.effective_user
    return message, message.chat.type in GROUP_TYPES, user.id if user else None


def _argument(message: Message) -> str:
    """What follows a command (``/check 这条短信…`` → ``这条短信…``), cleaned like any text."""
    parts = clean_text(message.text or message.caption or "").text.split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


class TelegramInput(InputChannel):
    """The Rasa connector: configuration, the Application's life on the server's loop, the webhook route."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        return cls(TelegramConfig.from_env(credentials))

    def __init__(self, config: TelegramConfig) -> None:
        self.config = config
        self.application: Application | None = None
        self.handlers: TelegramHandlers | None = None
        self.ready = False
        self._retry: asyncio.Task | None = None
        self._on_new_message: OnNewMessage | None = None
        self._parse: Parse | None = None

    @property
    def polling(self) -> bool:
        return self.config.mode == "polling"

    def get_output_channel(self) -> OutputChannel | None:
        return TelegramOutput(self.handlers.sender) if self.handlers and self.ready else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint("telegram_bot_webhook", __name__)

        @blueprint.listener("before_server_start")
        async def start(app: Any, _loop: Any) -> None:
            if not self.config.token:
                logger.warning("TELEGRAM_BOT_TOKEN not set: the Telegram channel is off")
                return

            async def parse(text: str) -> dict[str, Any]:
                return await app.ctx.agent.parse_message(text)

            await self.open(on_new_message, parse)

        @blueprint.listener("after_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            await self.close()

        @blueprint.route("/", methods=["GET"])
        async def health_check(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.ready else "off"})

        @blueprint.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            expected = self.config.webhook_secret
            given = request.headers.get(SECRET_HEADER, "")
            if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
                logger.warning("webhook call with a wrong or missing secret token refused")
                return response.text("forbidden", status=403)
            if self.application is None or not self.ready:
                return response.text("telegram channel not ready", status=503)
            try:
                data = request.json
            except Exception:  # malformed JSON: acknowledged so Telegram does not resend it
                logger.warning("webhook body is not JSON; ignored")
                return response.text("ok")
            update = self._update(data)
            if update is not None:
                try:  # handled before Telegram hears "ok": a crash mid-update means Telegram sends it again
                    await self.application.process_update(update)
                except Exception as error:
                    logger.error("update %s failed: %s", update.update_id, failure(error))
            return response.text("ok")

        return blueprint

    async def open(self, on_new_message: OnNewMessage, parse: Parse) -> bool:
        """Start the channel on the running loop; whether it is ready (if not, it keeps trying in the background)."""
        self._on_new_message, self._parse = on_new_message, parse
        if await self._start():
            return True
        self._retry = asyncio.create_task(self._keep_trying())
        return False

    async def close(self) -> None:
        """Stop trying, stop polling, stop the Application (its persistence written) and close its connections."""
        if self._retry:
            self._retry.cancel()
        await self._stop()

    def _update(self, data: Any) -> Update | None:
        """The update in a webhook body, or None (logged) for anything that is not one."""
        try:
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except Exception as error:  # PTB raises many kinds on malformed input; none may escape
            logger.warning("ignoring malformed update: %s", type(error).__name__)
            return None
        if update is None:
            logger.warning("ignoring update that is not an object")
        return update

    async def _build(self) -> Application:
        """The Application with our handlers; the store is opened in a thread (a SQLite file is migrated then)."""
        registry, alerts = await asyncio.to_thread(lambda: (GroupRegistry(), AlertService()))
        application = build_application(self.config, StorePersistence(), self.polling)
        handlers = TelegramHandlers(self.config, TelegramSender(application.bot), registry, self._on_new_message,
                                    self._parse, alerts)
        handlers.register(application)
        self.application, self.handlers = application, handlers
        return application

    async def _start(self) -> bool:
        """Build, initialise and start the Application (getMe, the stored drafts), then poll or set the webhook.

        A Telegram or store that cannot be reached must not stop the Rasa server, which also
        answers every other channel: the failure is reported and :meth:`_keep_trying` tries again.
        """
        try:
            application = self.application or await self._build()
            await application.initialize()
            await application.start()
            if self.polling:
                await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            elif self.config.public_url:
                await application.bot.set_webhook(f"{self.config.public_url}/webhooks/{CHANNEL}/webhook",
                                                  secret_token=self.config.webhook_secret or None,
                                                  allowed_updates=ALLOWED_UPDATES)
        except Exception as error:
            health.degraded(HEALTH_COMPONENT, f"cannot start ({type(error).__name__})")
            logger.warning("Telegram channel not started: %s", failure(error))
            await self._stop()
            return False
        self.ready = True
        health.recovered(HEALTH_COMPONENT)
        logger.info("Telegram bot @%s ready (%s)", application.bot.username, self.config.mode)
        return True

    async def _keep_trying(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            if await self._start():
                return
            delay = min(delay * 2, START_RETRY_MAX)

    async def _stop(self) -> None:
        self.ready = False
        application = self.application
        if application is None:
            return
        try:
            if application.updater and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
        except Exception as error:
            logger.warning("Telegram channel did not stop cleanly: %s", failure(error))
