"""Builds the senders the worker uses from the environment (one place for alert configuration).

The Telegram sender is the same class the Telegram channel uses
(:class:`bot.senders.telegram.TelegramSender`), and both count in the same send budget
(``FRAUDBOT_REDIS_URL``), so the bot's replies and the alerts keep Telegram's limits together.
"""

from __future__ import annotations

import os

from bot.config import TelegramConfig
from bot.senders import Sender
from bot.senders.telegram import TelegramSender
from bot.senders.wechat import (
    OfficialAccountMassSender,
    WeComAppChatSender,
    WeComRobotSender,
    official_account_client,
    wecom_client,
)


async def senders_from_env() -> dict[str, Sender]:
    """Every sender whose credentials are configured (WeCom robots need none)."""
    senders: dict[str, Sender] = {"wecom_robot": WeComRobotSender()}
    telegram = TelegramConfig.from_env()
    if telegram.token:
        sender = TelegramSender.from_config(telegram)
        await sender.bot.initialize()
        senders["telegram"] = sender
    if os.environ.get("WECOM_CORP_ID") and os.environ.get("WECOM_SECRET"):
        senders["wecom_appchat"] = WeComAppChatSender(wecom_client(os.environ["WECOM_CORP_ID"],
                                                                   os.environ["WECOM_SECRET"]))
    if os.environ.get("WECHAT_APPID") and os.environ.get("WECHAT_SECRET"):
        senders["wechat_oa_tag"] = OfficialAccountMassSender(official_account_client(
            os.environ["WECHAT_APPID"], os.environ["WECHAT_SECRET"]))
    return senders
