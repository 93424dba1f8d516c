"""答题 on Telegram: ``/quiz`` with a button per letter, ``/quiz_rank`` for a group's week, ``/quiz_name``.

In a private chat the pressed letter is answered with a new message (right or wrong, why, the
score and streak, and a 再来一题 button). In a group the question is posted once and stays as it
is: each member's press is answered through ``answerCallbackQuery`` with ``show_alert``, which
only that member sees, so a busy group is not flooded with one message per answer and nobody's
result is shown to the others. A second press by the same member counts once (the store's
rule: one answer per player per question per day).

The buttons carry the question (a short digest of its id, within Telegram's 64 bytes) and the
letter, signed with the channel's :class:`bot.channels.telegram.CallbackSigner` for the chat the
question was posted in: a modified client cannot answer a question that was never asked there,
or make up a button. Messages go through the one :class:`bot.senders.telegram.TelegramSender`;
the store (:class:`bot.quiz.QuizStore`) is called in threads, off the server's loop. Registered
by :class:`bot.channels.telegram.TelegramHandlers` (its commands and, before its catch-all
button handler, :meth:`QuizChat.handlers`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from typing import Any, Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import CallbackQueryLimit, ChatType
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackContext, CallbackQueryHandler

from bot import campaigns
from bot.alerts.telegram_flow import Signer
from bot.quiz import BadName, QuizStore, Ranking, asked_scenario, opts_out, result_text, standing_text
from bot.senders.telegram import TelegramSender
from core.campaign import LETTERS, Question, render_question

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
QUIZ_CALLBACK = "qz:"  # qz:<question digest>:<choice index>:<mac>, or qz:more:<mac>
MORE = f"{QUIZ_CALLBACK}more"
DIGEST_CHARS = 10
ALERT_CHARS = CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH  # Telegram shows at most 200
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)

PRIVATE_HINT = "点下面的字母作答。"
GROUP_HINT = "点下面的字母作答，结果只有您自己看得到。"
NO_QUESTIONS = "题库正在准备中，过一会儿再来试试。遇到拿不准的事，随时打 96110 问问。"
UNAVAILABLE = "答题暂时用不了，请稍后再试。遇到拿不准的事，随时打 96110 问问。"
STALE = "这道题已经失效了，发送 /quiz 换一道新题。"
MORE_TITLE = "再来一题"
NAME_USAGE = "想在群排行榜上显示昵称，请发送 /quiz_name 加昵称，例如：/quiz_name 小区老王"
NAME_SET = "好了！群排行榜上会显示您的昵称：{name}。不想显示了，发送 /quiz_name 取消"
NAME_REMOVED = "好的，已经去掉您的昵称，排行榜上只显示次数，不显示名字。"
RANK_PRIVATE = "在群里发送 /quiz_rank，可以看本群本周的答题排行。"
SOMEONE = "一位群友"

Handler = Callable[[Update, CallbackContext], Awaitable[Any]]


def question_digest(question_id: str) -> str:
    """A question's id in a button: short and fixed, whatever the administrator named the question."""
    return base64.urlsafe_b64encode(hashlib.sha256(question_id.encode()).digest()).decode()[:DIGEST_CHARS]


def ranking_text(ranking: Ranking) -> str:
    """A group's week: counts, and names only of the members who chose one."""
    if not ranking.answers:
        return "本群这周还没有人答题。发送 /quiz 来一道吧！"
    lines = [f"📊 本群本周答题榜（{ranking.since.month}月{ranking.since.day}日起）"]
    lines += [f"{place}. {row.name or SOMEONE}：答了 {row.answered} 题，答对 {row.right} 题"
              for place, row in enumerate(ranking.rows, 1)]
    lines.append(f"这周共 {ranking.players} 人参加，答了 {ranking.answers} 题。")
    lines.append(NAME_USAGE)
    return "\n".join(lines)


class QuizChat:
    """``/quiz``, its buttons, ``/quiz_rank`` and ``/quiz_name`` for the Telegram channel."""

    def __init__(self, sender: TelegramSender, signer: Signer, store: QuizStore | None = None) -> None:
        self._sender = sender
        self._signer = signer
        self.store = store or QuizStore()

    @property
    def commands(self) -> dict[str, Handler]:
        """Command name → handler, for the channel's command table (typed or found after cleaning)."""
        return {"quiz": self.ask, "quiz_rank": self.rank, "quiz_name": self.name}

    def handlers(self) -> list[BaseHandler]:
        """The quiz's buttons: registered before the channel's handler for every other button."""
        return [CallbackQueryHandler(self.press, pattern=f"^{QUIZ_CALLBACK}")]

    # -- commands ---------------------------------------------------------------------------

    async def ask(self, update: Update, context: CallbackContext) -> None:
        """/quiz (or /quiz 刷单 for a scenario): one question, posted once, with a button per letter."""
        message, user = update.effective_message, update.effective_user
        group = message.chat.type in GROUP_TYPES
        await self._ask(message.chat.id, user.id if user else message.chat.id, group,
                        " ".join(context.args or []), reply_to=message.message_id if group else None)

    async def rank(self, update: Update, context: CallbackContext) -> None:
        """/quiz_rank: the group's week in a group; in a private chat, the resident's own score."""
        message, user = update.effective_message, update.effective_user
        chat_id = message.chat.id
        try:
            if message.chat.type in GROUP_TYPES:
                text = ranking_text(await asyncio.to_thread(self.store.ranking, CHANNEL, chat_id))
            else:
                standing = await asyncio.to_thread(self.store.standing, CHANNEL, user.id if user else chat_id)
                text = f"{standing_text(standing)}\n{RANK_PRIVATE}"
        except SQLAlchemyError as error:
            logger.warning("quiz ranking unavailable: %s", type(error).__name__)
            text = UNAVAILABLE
        await self._send(chat_id, text, reply_to=message.message_id if message.chat.type in GROUP_TYPES else None)

    async def name(self, update: Update, context: CallbackContext) -> None:
        """/quiz_name 名字 opts in to be named in group rankings; /quiz_name 取消 opts out (the name is deleted)."""
        message, user = update.effective_message, update.effective_user
        argument = " ".join(context.args or [])
        reply_to = message.message_id if message.chat.type in GROUP_TYPES else None
        if user is None or not argument.strip():
            await self._send(message.chat.id, NAME_USAGE, reply_to=reply_to)
            return
        try:
            if opts_out(argument):
                await asyncio.to_thread(self.store.forget_name, CHANNEL, user.id)
                text = NAME_REMOVED
            else:
                text = NAME_SET.format(name=await asyncio.to_thread(self.store.set_name, CHANNEL, user.id, argument))
        except BadName as refusal:
            text = f"{refusal}\n{NAME_USAGE}"
        except SQLAlchemyError as error:
            logger.warning("quiz name not kept: %s", type(error).__name__)
            text = UNAVAILABLE
        await self._send(message.chat.id, text, reply_to=reply_to)

    # -- buttons ----------------------------------------------------------------------------

    async def press(self, update: Update, context: CallbackContext) -> None:
        """A letter (or 再来一题) pressed: checked against the chat it was posted in, then answered."""
        query = update.callback_query
        chat = query.message.chat if query.message is not None else None
        data = self._signer.verify(chat.id, query.data or "") if chat is not None else None
        if data is None:
            logger.warning("quiz button refused (%d bytes): not signed for this chat", len((query.data or "").encode()))
            await _answer(query, STALE, alert=True)
            return
        group = chat.type in GROUP_TYPES
        if data == MORE:
            await _answer(query)
            await self._ask(chat.id, query.from_user.id, group, "")
            return
        digest, _, index = data[len(QUIZ_CALLBACK):].partition(":")
        try:
            question = await asyncio.to_thread(self._question, digest)
            outcome = None
            if question is not None and index.isdigit() and int(index) < len(question.choices):
                campaign = await asyncio.to_thread(self._campaign, chat.id, question.id) if group else None
                outcome = await asyncio.to_thread(self.store.answer, CHANNEL, query.from_user.id, question.id,
                                                  int(index), chat.id if group else None, campaign)
        except SQLAlchemyError as error:
            logger.warning("quiz answer not recorded: %s", type(error).__name__)
            await _answer(query, UNAVAILABLE, alert=True)
            return
        if outcome is None:  # the question left the content since it was asked
            await _answer(query, STALE, alert=True)
            return
        text = result_text(outcome)
        if group or not outcome.counted:  # only the one who pressed sees it; a repeat adds no message
            await _answer(query, _fit(text), alert=True)
            return
        await _answer(query)
        await self._send(chat.id, text, self._more(chat.id))

    # -- helpers ----------------------------------------------------------------------------

    async def _ask(self, chat_id: int, user_id: int, group: bool, wanted: str, reply_to: int | None = None) -> None:
        scenario = asked_scenario(wanted)
        try:
            question = await asyncio.to_thread(self._campaign_question, chat_id) if group and not wanted else None
            if question is None:
                question = await asyncio.to_thread(self.store.pick, CHANNEL, user_id, scenario)
            if question is None and scenario is not None:
                question = await asyncio.to_thread(self.store.pick, CHANNEL, user_id, None)
        except SQLAlchemyError as error:
            logger.warning("quiz question not picked: %s", type(error).__name__)
            await self._send(chat_id, UNAVAILABLE, reply_to=reply_to)
            return
        if question is None:
            await self._send(chat_id, NO_QUESTIONS, reply_to=reply_to)
            return
        text = f"{render_question(question)}\n\n{GROUP_HINT if group else PRIVATE_HINT}"
        await self._send(chat_id, text, self._letters(chat_id, question), reply_to=reply_to)

    def _campaign_question(self, chat_id: int) -> Question | None:
        """The question a 宣传 campaign posted to this group today: a member's /quiz there asks it."""
        wanted = campaigns.todays_question(CHANNEL, chat_id, self.store.today())
        return next((q for q in self.store.questions() if q.id == wanted), None) if wanted else None

    def _campaign(self, chat_id: int, question_id: str) -> int | None:
        """The campaign an answer in this group counts for (it posted that question here today or yesterday)."""
        return campaigns.campaign_for(CHANNEL, chat_id, question_id, self.store.today())

    def _question(self, digest: str) -> Question | None:
        return next((q for q in self.store.questions() if question_digest(q.id) == digest), None)

    def _letters(self, chat_id: int, question: Question) -> InlineKeyboardMarkup:
        """One row of letter buttons, each signed for this chat."""
        digest = question_digest(question.id)
        return InlineKeyboardMarkup([[
            InlineKeyboardButton(LETTERS[index], callback_data=self._signer.sign(chat_id, f"{QUIZ_CALLBACK}{digest}:"
                                                                                          f"{index}"))
            for index in range(len(question.choices))]])

    def _more(self, chat_id: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton(MORE_TITLE,
                                                           callback_data=self._signer.sign(chat_id, MORE))]])

    async def _send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None,
                    reply_to: int | None = None) -> None:
        result = await self._sender.send_message(chat_id, text, reply_markup=markup, reply_to_message_id=reply_to)
        if not result.ok:
            logger.warning("quiz message to %s not delivered: %s", chat_id, result.error)


def _fit(text: str) -> str:
    """What an alert can show: Telegram refuses a longer answerCallbackQuery text."""
    return text if len(text) <= ALERT_CHARS else text[:ALERT_CHARS - 1] + "…"


async def _answer(query: Any, text: str | None = None, alert: bool = False) -> None:
    """Answer a press (the member's result, or just stop the spinner); a failure is logged, not raised."""
    try:
        await query.answer(text=text, show_alert=alert or None)
    except TelegramError as error:
        logger.warning("could not answer a quiz button: %s", type(error).__name__)
