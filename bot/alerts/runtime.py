"""Builds the senders the worker uses from the environment (one place for alert configuration)."""

from __future__ import annotations

import os

from bot.config import TelegramConfig
from bot.senders import Sender
from bot.senders.telegram import TELEGRAM_OVERALL_PER_SECOND, TelegramGroupSender, alerts_bot
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
        bot = alerts_bot(telegram.token, telegram.api_base_url)
        await bot.initialize()
        per_second = float(os.environ.get("ALERTS_TELEGRAM_PER_SECOND", TELEGRAM_OVERALL_PER_SECOND))
        senders["telegram"] = TelegramGroupSender(bot, overall_per_second=per_second)
    if os.environ.get("WECOM_CORP_ID") and os.environ.get("WECOM_SECRET"):
        senders["wecom_appchat"] = WeComAppChatSender(wecom_client(os.environ["WECOM_CORP_ID"],
                                                                   os.environ["WECOM_SECRET"]))
    if os.environ.get("WECHAT_APPID") and os.environ.get("WECHAT_SECRET"):
        senders["wechat_oa_tag"] = OfficialAccountMassSender(official_account_client(
            os.environ["WECHAT_APPID"], os.environ["WECHAT_SECRET"]))
    return senders
