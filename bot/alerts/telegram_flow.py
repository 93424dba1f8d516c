"""An officer's /alert in a private Telegram chat: text, regions, preview, 确认发送 or 取消.

The steps are a python-telegram-bot ``ConversationHandler`` (``name="alert_drafts"``,
persistent), the draft itself is the officer's ``user_data``, and both live in the project's
store (:class:`StorePersistence`, table ``telegram_persistence``) rather than in the process:
a draft survives a restart of the Rasa server, and another replica behind the same webhook
URL carries on where this one stopped. PTB writes persistence on a timer and reads
conversations only at start-up, which is right for one long-lived process and wrong for
replicas, so here every update first reads its officer's state from the store
(:meth:`SharedConversation.refresh`, ``refresh_user_data``) and the application writes right
after each update (:class:`bot.channels.telegram.StoredApplication`).

The preview's buttons carry an HMAC over the officer, the action and the draft's token (the
channel's signer): a forged button, someone else's, or one of an older preview changes
nothing. Pressing 确认发送 first *takes* the draft out of the store in one conditional
delete, so two presses (a double tap, or two replicas) queue the alert once.

Every database call runs in a thread: the handlers run on the Rasa server's event loop,
which answers every resident.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import warnings
from typing import Any, Awaitable, Callable, Protocol

from sqlalchemy import Column, DateTime, String, Table, Text, and_, delete, select
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    BasePersistence,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    PersistenceInput,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.alerts.service import AlertService, InvalidAlert, Refused
from bot.inbound import normalise
from bot.store import engine, metadata, now

logger = logging.getLogger(__name__)

CONVERSATION = "alert_drafts"
ALERT_CALLBACK = "alert:"  # callback data of the preview's buttons: alert:<action>:<draft token>:<mac>
DRAFT = "alert_draft"  # the key of the draft in the officer's user_data
DRAFT_TTL = 24 * 3600  # seconds a draft may wait for 确认发送; an older preview's button is stale
EXPIRES_HOURS = 72  # an alert sent from Telegram stays live this long
TEXT, REGIONS, CONFIRM = "text", "regions", "confirm"
USER_DATA = "user_data"

ASK_TEXT = "请发送通报内容：第一行是标题，下面是正文。\n随时发送 /cancel 取消。"
ASK_AGAIN = "第一行是标题，下面要有正文。请重新发送。"
ASK_REGIONS = "发往哪些地区？请回复地区名，多个用逗号分开；发往所有群请回复“全部”。"
PRIVATE_ONLY = "请在和我的私聊里发布警情通报。"
PRESS_A_BUTTON = "请点预览下面的“确认发送”或“取消”；发送 /cancel 也可以取消。"
STALE = "这个按钮已经失效了。要发通报，请重新发送 /alert。"
CANCELLED = "已取消，本次通报没有发出。"
STATUS_USAGE = "请写上通报编号，例如 /alert_status 12"
STATE_NAMES = {"delivered": "已送达", "pending": "待发送", "sending": "发送中", "failed": "失败",
               "cancelled": "已取消", "uncertain": "不确定是否送达"}

# PTB's conversation states and user_data, one row per (kind, key); the value is JSON.
telegram_persistence = Table(
    "telegram_persistence", metadata,
    Column("kind", String(64), primary_key=True),  # "conversation:<name>" or "user_data"
    Column("key", String(128), primary_key=True),  # JSON of the conversation key, or the user id
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

Send = Callable[..., Awaitable[Any]]
"""``send(chat_id, text, buttons=None, reply_to=None)``: the channel's one way to send (Rasa-style buttons)."""


class Signer(Protocol):
    """Signs callback data for one user and checks it (:class:`bot.channels.telegram.CallbackSigner`)."""

    def sign(self, user_id: int, data: str) -> str: ...

    def verify(self, user_id: int, signed: str) -> str | None: ...


def _dumps(value: Any) -> str:
    """One spelling per value, so that the text read back compares equal to the text written."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _conversation_kind(name: str) -> str:
    return f"conversation:{name}"


class StorePersistence(BasePersistence):
    """PTB persistence in the project's store: conversation states and user_data (the drafts).

    Only what the bot keeps is stored: user_data (written only when it holds something, so a
    resident's empty one costs no write) and conversations. bot_data, chat_data and callback
    data are not used by this bot. Writes happen at once; :meth:`flush` has nothing left to do.
    """

    def __init__(self, url: str | None = None) -> None:
        super().__init__(store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True,
                                                     callback_data=False))
        self._url = url
        self._engine: Engine | None = None
        self._stored: dict[int, str] = {}  # user id -> the user_data JSON the store holds, for users that have a row

    @property
    def engine(self) -> Engine:
        if self._engine is None:  # made on first use, so that building the channel touches no database
            self._engine = engine(self._url)
        return self._engine

    # -- reading and writing rows (in a thread) -----------------------------------------------

    def _rows(self, kind: str) -> list[tuple[str, str]]:
        with self.engine.connect() as db:
            rows = db.execute(select(telegram_persistence.c.key, telegram_persistence.c.value)
                              .where(telegram_persistence.c.kind == kind)).all()
        return [(row.key, row.value) for row in rows]

    def _get(self, kind: str, key: str) -> str | None:
        with self.engine.connect() as db:
            return db.execute(select(telegram_persistence.c.value).where(
                telegram_persistence.c.kind == kind, telegram_persistence.c.key == key)).scalar()

    def _put(self, kind: str, key: str, value: str | None) -> None:
        """Write one row (``None`` deletes it), replacing what was there."""
        where = and_(telegram_persistence.c.kind == kind, telegram_persistence.c.key == key)
        with self.engine.begin() as db:
            db.execute(delete(telegram_persistence).where(where))
            if value is not None:
                db.execute(telegram_persistence.insert().values(kind=kind, key=key, value=value, updated_at=now()))

    def _take(self, kind: str, key: str, value: str) -> bool:
        """Delete the row only if it still holds ``value``; whether this call deleted it."""
        with self.engine.begin() as db:
            result = db.execute(delete(telegram_persistence).where(
                telegram_persistence.c.kind == kind, telegram_persistence.c.key == key,
                telegram_persistence.c.value == value))
        return result.rowcount == 1

    # -- conversations ----------------------------------------------------------------------

    async def get_conversations(self, name: str) -> dict[tuple[int, ...], object]:
        rows = await asyncio.to_thread(self._rows, _conversation_kind(name))
        return {tuple(json.loads(key)): json.loads(value) for key, value in rows}

    async def update_conversation(self, name: str, key: tuple[int | str, ...], new_state: object | None) -> None:
        value = None if new_state is None else _dumps(new_state)
        await asyncio.to_thread(self._put, _conversation_kind(name), _dumps(list(key)), value)

    async def conversation(self, name: str, key: tuple[int | str, ...]) -> object | None:
        """The stored state of one conversation (None: not in one)."""
        value = await asyncio.to_thread(self._get, _conversation_kind(name), _dumps(list(key)))
        return None if value is None else json.loads(value)

    # -- user_data --------------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        rows = await asyncio.to_thread(self._rows, USER_DATA)
        self._stored = {int(key): value for key, value in rows}
        return {int(key): json.loads(value) for key, value in rows}

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        """What the store holds now replaces what this process remembers (another replica may have changed it)."""
        value = await asyncio.to_thread(self._get, USER_DATA, str(user_id))
        if value is None:
            self._stored.pop(user_id, None)
        else:
            self._stored[user_id] = value
        user_data.clear()
        user_data.update(json.loads(value) if value is not None else {})

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        value = _dumps(data) if data else None
        if value == self._stored.get(user_id):
            return  # unchanged (a resident's empty user_data is never written)
        await asyncio.to_thread(self._put, USER_DATA, str(user_id), value)
        if value is None:
            self._stored.pop(user_id, None)
        else:
            self._stored[user_id] = value

    async def drop_user_data(self, user_id: int) -> None:
        await asyncio.to_thread(self._put, USER_DATA, str(user_id), None)
        self._stored.pop(user_id, None)

    async def take_user_data(self, user_id: int) -> bool:
        """Remove this user's stored data if it is still what this process read last; whether it was.

        Confirming a draft takes it first: of two presses, on one replica or two, only one
        finds the row as it read it.
        """
        seen = self._stored.get(user_id)
        if seen is None:
            return False
        taken = await asyncio.to_thread(self._take, USER_DATA, str(user_id), seen)
        self._stored.pop(user_id, None)
        return taken

    # -- what this bot does not keep --------------------------------------------------------

    async def get_chat_data(self) -> dict[int, Any]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: Any) -> None:
        return None

    async def update_bot_data(self, data: Any) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: Any) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Any) -> None:
        return None

    async def flush(self) -> None:
        return None  # every write went to the store when it happened


class SharedConversation(ConversationHandler):
    """A persistent ConversationHandler whose state for an update is read from the store first.

    PTB loads a persistent conversation's states once, when the application starts; after that
    a replica would act on what it saw then. :meth:`refresh` puts the stored state of the
    update's conversation in place (run by a handler of an earlier group, before this one
    looks at the update). It reaches into PTB's ``_conversations`` (python-telegram-bot 22.8,
    pinned), which only this method does.
    """

    async def refresh(self, update: object, persistence: StorePersistence) -> None:
        if not isinstance(update, Update) or update.effective_chat is None or update.effective_user is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE:
            return  # drafts live only in private chats: nothing to read for a group
        key = (update.effective_chat.id, update.effective_user.id)
        state = await persistence.conversation(self.name or "", key)
        states = self._conversations  # a TrackingDict once the application is initialised
        if state is None:
            states.data.pop(key, None)  # not a write: there is nothing to store
        else:
            states.update_no_track({key: state})


def new_draft() -> dict[str, Any]:
    """An empty draft; its token ties the preview's buttons to this draft and no other."""
    return {"token": secrets.token_hex(6), "started": time.time(), "title": None, "body": None, "regions": None}


class AlertFlow:
    """The /alert conversation and /alert_status, for officers on the roster (by Telegram user id)."""

    def __init__(self, service: AlertService, signer: Signer, send: Send) -> None:
        self.service = service
        self.signer = signer
        self._send = send
        private_text = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
        with warnings.catch_warnings():
            # PTB warns that with per_message=False a button is tracked per chat and user, not per
            # message: that is the intent here (the draft's token says which preview is current).
            warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
            self.conversation = SharedConversation(
                entry_points=[CommandHandler("alert", self.begin, filters.UpdateType.MESSAGE)],
                states={
                    TEXT: [MessageHandler(private_text, self.take_text)],
                    REGIONS: [MessageHandler(private_text, self.take_regions)],
                    CONFIRM: [CallbackQueryHandler(self.decide, pattern=f"^{ALERT_CALLBACK}"),
                              MessageHandler(private_text, self.remind)],
                },
                fallbacks=[CommandHandler("cancel", self.cancel, filters.UpdateType.MESSAGE)],
                allow_reentry=True, name=CONVERSATION, persistent=True,
            )

    def refresher(self) -> TypeHandler:
        """The handler (for a group before the conversation's) that reads the officer's state from the store."""

        async def refresh(update: Update, context: CallbackContext) -> None:
            await self.conversation.refresh(update, context.application.persistence)

        return TypeHandler(Update, refresh)

    def handlers(self) -> list[Any]:
        """In this order, in the channel's main group: the conversation, stale or forged preview
        buttons outside it, and /alert_status."""
        return [self.conversation,
                CallbackQueryHandler(self.outside, pattern=f"^{ALERT_CALLBACK}"),
                CommandHandler("alert_status", self.status, filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE)]

    # -- steps ------------------------------------------------------------------------------

    async def begin(self, update: Update, context: CallbackContext) -> object:
        """/alert: only in a private chat, only for an officer on the roster."""
        message, user = update.effective_message, update.effective_user
        try:
            if message.chat.type != ChatType.PRIVATE:
                raise Refused(PRIVATE_ONLY)
            await asyncio.to_thread(self.service.authorize, "telegram", user.id if user else None)
        except Refused as refusal:
            await self._send(message.chat.id, str(refusal), reply_to=message.message_id)
            return ConversationHandler.END
        context.user_data[DRAFT] = new_draft()
        await self._send(message.chat.id, ASK_TEXT)
        return TEXT

    async def take_text(self, update: Update, context: CallbackContext) -> object:
        """The title on the first line, the body below (an officer's text is not cut like a resident's)."""
        message = update.effective_message
        title, _, body = normalise(message.text or "").strip().partition("\n")
        if not body.strip():
            await self._send(message.chat.id, ASK_AGAIN)
            return None
        draft = {**context.user_data.get(DRAFT, new_draft()), "title": title.strip(), "body": body.strip()}
        context.user_data[DRAFT] = draft
        await self._send(message.chat.id, ASK_REGIONS)
        return REGIONS

    async def take_regions(self, update: Update, context: CallbackContext) -> object:
        """The regions, then the preview with the number of groups and the two signed buttons."""
        message, user_id = update.effective_message, update.effective_user.id
        draft = context.user_data.get(DRAFT)
        if not draft or not draft.get("title"):
            await self._send(message.chat.id, STALE)
            return ConversationHandler.END
        regions = normalise(message.text or "").strip()
        count = await asyncio.to_thread(self.service.count_targets, regions)
        context.user_data[DRAFT] = draft = {**draft, "regions": regions}
        preview = f"【警情通报】{draft['title']}\n\n{draft['body']}"
        buttons = [{"title": "确认发送", "payload": self._button(user_id, draft, "confirm")},
                   {"title": "取消", "payload": self._button(user_id, draft, "cancel")}]
        await self._send(message.chat.id, f"预览：\n\n{preview}\n\n发往：{regions}（共 {count} 个群）", buttons)
        return CONFIRM

    async def remind(self, update: Update, context: CallbackContext) -> object:
        await self._send(update.effective_message.chat.id, PRESS_A_BUTTON)
        return None

    async def cancel(self, update: Update, context: CallbackContext) -> object:
        context.user_data.pop(DRAFT, None)
        await self._send(update.effective_message.chat.id, CANCELLED)
        return ConversationHandler.END

    async def decide(self, update: Update, context: CallbackContext) -> object:
        """确认发送 or 取消 on the current preview: the draft is taken from the store, then sent or dropped."""
        query = update.callback_query
        await _answer(query)
        user_id, chat_id = query.from_user.id, query.message.chat.id if query.message else query.from_user.id
        decision = self._verified(user_id, query.data or "")
        if decision is None:
            return None  # forged: nothing changes, nothing is said
        action, token = decision
        draft = context.user_data.get(DRAFT)
        if not draft or draft.get("regions") is None or draft.get("token") != token:
            await self._send(chat_id, STALE)  # an older preview's button: the current draft stays
            return None
        if time.time() - float(draft.get("started") or 0) > DRAFT_TTL:
            context.user_data.pop(DRAFT, None)  # left too long: nobody should send it by surprise
            await self._send(chat_id, STALE)
            return ConversationHandler.END
        if not await context.application.persistence.take_user_data(user_id):
            await self._send(chat_id, STALE)  # another press (here or on another replica) took it first
            return None
        context.user_data.pop(DRAFT, None)
        if action != "confirm":
            await self._send(chat_id, CANCELLED)
            return ConversationHandler.END
        try:
            officer = await asyncio.to_thread(self.service.authorize, "telegram", user_id)
            alert_id = await asyncio.to_thread(self.service.create, officer, draft["title"], draft["body"],
                                               draft["regions"], expires_at=self.service.expires_in(EXPIRES_HOURS))
        except (Refused, InvalidAlert) as error:
            await self._send(chat_id, str(error))
            return ConversationHandler.END
        await self._send(chat_id, f"已提交，编号 #{alert_id}，正在推送。发送 /alert_status {alert_id} 查看送达情况。")
        return ConversationHandler.END

    async def outside(self, update: Update, context: CallbackContext) -> None:
        """A preview button pressed when its officer has no draft waiting: forged, or stale."""
        query = update.callback_query
        await _answer(query)
        if self._verified(query.from_user.id, query.data or "") is not None and query.message is not None:
            await self._send(query.message.chat.id, STALE)

    async def status(self, update: Update, context: CallbackContext) -> None:
        """/alert_status 12: the delivery report of an alert, per channel, with the failures."""
        message, user = update.effective_message, update.effective_user
        argument = " ".join(context.args or [])
        try:
            await asyncio.to_thread(self.service.authorize, "telegram", user.id if user else None)
            report = await asyncio.to_thread(self.service.status, int(argument.strip()))
        except Refused as refusal:
            await self._send(message.chat.id, str(refusal))
            return
        except (InvalidAlert, ValueError):
            await self._send(message.chat.id, STATUS_USAGE)
            return
        lines = [f"通报 #{report['id']}《{report['title']}》" + ("（已撤回）" if report["recalled"] else "")]
        for channel, states in report["channels"].items():
            counts = "，".join(f"{STATE_NAMES.get(state, state)} {count}" for state, count in states.items())
            lines.append(f"· {channel}：{counts}")
        lines += [f"  失败：{p['chat_id']} {p['last_error']}" for p in report["problems"][:10]]
        await self._send(message.chat.id, "\n".join(lines))

    # -- buttons ----------------------------------------------------------------------------

    def _button(self, user_id: int, draft: dict[str, Any], action: str) -> str:
        """Signed callback data of a preview's button: only this officer, only this draft."""
        return self.signer.sign(user_id, f"{ALERT_CALLBACK}{action}:{draft['token']}")

    def _verified(self, user_id: int, data: str) -> tuple[str, str] | None:
        """(action, draft token) of a genuine button of ``user_id``; None, logged, for anything else."""
        verified = self.signer.verify(user_id, data)
        if verified is None or not verified.startswith(ALERT_CALLBACK):
            logger.warning("forged alert button from user %s refused (%d bytes)", user_id, len(data.encode()))
            return None
        action, _, token = verified[len(ALERT_CALLBACK):].partition(":")
        return action, token


async def _answer(query: Any) -> None:
    """Stop the client's spinner; a failure here must not stop the decision."""
    try:
        await query.answer()
    except TelegramError as error:
        logger.warning("could not answer a button press: %s", type(error).__name__)

