"""WeChat and WeCom senders (wechatpy 1.8): group robots, app group chats, Official Account mass sends, and
messages to one resident (Official Account customer service, WeCom app) for the next day's 回访.

Access tokens are fetched once and shared through the project's store
(:class:`bot.store.StoreSessionStorage`), not per request. API base URLs are settings so
that tests point them at a local fake server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import lru_cache
from typing import Any, Awaitable, Callable

import httpx
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClientBase
from wechatpy.exceptions import WeChatClientException

from bot.config import wecom_robot_per_minute
from bot.senders import NOT_SENT, SEND_ATTEMPTS, DeliveryResult, PacedSender, utf8_truncate
from bot.senders.budget import SAFETY, SendBudget, Slot, secret_key
from bot.store import StoreSessionStorage

logger = logging.getLogger(__name__)

OA_API = "https://api.weixin.qq.com/cgi-bin/"
WECOM_API = "https://qyapi.weixin.qq.com/cgi-bin/"
ROBOT_TEXT_BYTES = 2048  # WeCom robot text limit
APPCHAT_TEXT_BYTES = 2048
MESSAGE_TEXT_BYTES = 2048  # one customer-service (Official Account) or app (WeCom) text message
RETRYABLE_ERRCODES = {-1, 45009, 45011, 45047}  # system busy, frequency limits
GONE_ERRCODES = {93000, 86003, 86001, 40003, 43004}  # robot/chat gone, user gone or unsubscribed


def oa_api_base() -> str:
    return os.environ.get("WECHAT_API_BASE_URL", OA_API)


def wecom_api_base() -> str:
    return os.environ.get("WECOM_API_BASE_URL", WECOM_API)


class OfficialAccountClient(WeChatClient):
    """wechatpy's Official Account client with a configurable API base (token URL included)."""

    def __init__(self, appid: str, secret: str, api_base_url: str, **kwargs: Any) -> None:
        super().__init__(appid, secret, **kwargs)
        self.API_BASE_URL = api_base_url

    def fetch_access_token(self) -> dict:
        return self._fetch_access_token(url=f"{self.API_BASE_URL}token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})


class WeComClient(WeComClientBase):
    """wechatpy's WeCom client with a configurable API base (token URL included)."""

    def __init__(self, corp_id: str, secret: str, api_base_url: str, **kwargs: Any) -> None:
        super().__init__(corp_id, secret, **kwargs)
        self.API_BASE_URL = api_base_url

    def fetch_access_token(self) -> dict:
        return self._fetch_access_token(url=f"{self.API_BASE_URL}gettoken",
                                        params={"corpid": self.corp_id, "corpsecret": self.secret})


@lru_cache(maxsize=8)
def official_account_client(appid: str, secret: str, api_base_url: str | None = None) -> OfficialAccountClient:
    """One client per account and process; its token lives in the shared store."""
    return OfficialAccountClient(appid, secret, api_base_url or oa_api_base(), session=StoreSessionStorage(),
                                 timeout=10)


@lru_cache(maxsize=8)
def wecom_client(corp_id: str, secret: str, api_base_url: str | None = None) -> WeComClient:
    """One client per WeCom app and process; its token lives in the shared store."""
    return WeComClient(corp_id, secret, api_base_url or wecom_api_base(), session=StoreSessionStorage(),
                       timeout=10)


def _from_exception(channel: str, target: str, error: Exception) -> DeliveryResult:
    """A wechatpy call's failure: WeChat's refusal by errcode, or a network failure judged like any other."""
    if isinstance(error, WeChatClientException):
        code = error.errcode
        return DeliveryResult(False, channel, target, error=f"{code}: {error.errmsg}",
                              retryable=code in RETRYABLE_ERRCODES or code is None,
                              gone=code in GONE_ERRCODES)
    if _requests_not_sent(error):
        return DeliveryResult(False, channel, target, error=f"no connection: {type(error).__name__}",
                              retryable=True)
    return DeliveryResult.in_doubt(channel, target, f"{type(error).__name__}: {error}")


def _requests_not_sent(error: Exception) -> bool:
    """``requests`` failed before sending: no connection could be made (wechatpy talks through requests)."""
    import requests

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(error, requests.exceptions.ConnectionError):
        from urllib3.exceptions import NewConnectionError

        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError)
    return False


def _answer(channel: str, target: str, reply: httpx.Response) -> DeliveryResult:
    """What an answer of a WeCom robot means: only its own errcode says it refused the message."""
    if reply.status_code == 429:
        return DeliveryResult(False, channel, target, error="HTTP 429", retryable=True)
    try:
        data = reply.json() if reply.status_code < 500 else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "errcode" not in data:  # a gateway's page or a crash: it may have arrived
        return DeliveryResult.in_doubt(channel, target, f"HTTP {reply.status_code} without WeCom's answer")
    code = data["errcode"]
    if code == 0:
        return DeliveryResult.delivered(channel, target)
    return DeliveryResult(False, channel, target, error=f"{code}: {data.get('errmsg')}",
                          retryable=code in RETRYABLE_ERRCODES, gone=code in GONE_ERRCODES)


class WeComRobotSender(PacedSender):
    """WeCom group robot (群机器人): a send-only webhook per group, 20 messages a minute each.

    The budget key is a hash of the robot's key (the key is the robot's only secret). Retry
    policy as for Telegram (:mod:`bot.senders.telegram`): a connection that could not be made
    is retried here; a timeout, a lost connection or a 5xx without WeCom's errcode may have
    delivered the message and comes back ``uncertain``; WeCom's own refusals (frequency
    limits, busy) come back retryable for the outbox to schedule.
    """

    channel = "wecom_robot"

    def __init__(self, api_base_url: str | None = None, budget: SendBudget | None = None,
                 markdown: bool = False, per_minute: int | None = None, attempts: int = SEND_ATTEMPTS,
                 backoff: float = 0.5, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        super().__init__(budget)
        self._url = f"{api_base_url or wecom_api_base()}webhook/send"
        self._markdown = markdown
        self.per_minute = per_minute or wecom_robot_per_minute()
        self.attempts, self.backoff, self._sleep = attempts, backoff, sleep
        self._http = httpx.AsyncClient(timeout=10)

    def slots(self, target: str) -> list[Slot]:
        return [Slot(f"wecom_robot:{secret_key(target)}", self.per_minute, 60.0 * SAFETY)]

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """``target`` is the robot's webhook key; the budget slot was taken by :meth:`reserve`."""
        kind = "markdown" if self._markdown else "text"
        body = {"msgtype": kind, kind: {"content": utf8_truncate(text, ROBOT_TEXT_BYTES)}}
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                await self.reserve(target)
            try:
                reply = await self._http.post(self._url, params={"key": target}, json=body)
            except NOT_SENT as error:
                if attempt == self.attempts:
                    return DeliveryResult(False, self.channel, target, error=f"no connection: {error!r}",
                                          retryable=True)
                await self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            except httpx.HTTPError as error:  # written, then no answer: it may have arrived
                return DeliveryResult.in_doubt(self.channel, target, f"no answer from WeCom ({error!r})")
            return _answer(self.channel, target, reply)
        raise AssertionError("unreachable: the last attempt always returns")

    async def close(self) -> None:
        await self._http.aclose()


class WeComAppChatSender(PacedSender):
    """Group chats created by the WeCom app itself (``appchat``); conservative 20 a minute per chat."""

    channel = "wecom_appchat"

    def __init__(self, client: WeComClient, budget: SendBudget | None = None, per_minute: int | None = None) -> None:
        super().__init__(budget)
        self._client = client
        self.per_minute = per_minute or wecom_robot_per_minute()

    def slots(self, target: str) -> list[Slot]:
        return [Slot(f"wecom_appchat:{secret_key(self._client.corp_id)}:{target}", self.per_minute, 60.0 * SAFETY)]

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """``target`` is the app chat's chatid."""
        try:
            await asyncio.to_thread(self._client.appchat.send_text, target,
                                    utf8_truncate(text, APPCHAT_TEXT_BYTES))
        except Exception as error:  # wechatpy raises WeChatClientException or requests errors
            return _from_exception(self.channel, target, error)
        return DeliveryResult.delivered(self.channel, target)


class OfficialAccountMassSender(PacedSender):
    """Official Account mass sending (群发) to a user tag.

    WeChat allows a subscription account one mass send a day and a service account four a
    month; a refusal for quota comes back as a non-retryable failure with WeChat's reason.
    """

    channel = "wechat_oa_tag"

    def __init__(self, client: OfficialAccountClient) -> None:
        super().__init__()
        self._client = client

    async def reserve(self, target: str) -> None:
        """No per-message pace: WeChat counts mass sends per day or month and says so when refused."""

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """``target`` is the numeric tag id."""
        try:
            result = await asyncio.to_thread(self._client.post, "message/mass/sendall", data={
                "filter": {"is_to_all": False, "tag_id": int(target)},
                "text": {"content": text}, "msgtype": "text", "send_ignore_reprint": 0})
        except Exception as error:
            return _from_exception(self.channel, target, error)
        return DeliveryResult.delivered(self.channel, target, str(result.get("msg_id", "")) or None)


class OfficialAccountCustomerSender(PacedSender):
    """Customer-service messages (客服消息) to one resident of the Official Account, by openid.

    The only way an Official Account writes to a resident who did not just send something: the next day's
    回访 (:mod:`bot.followup_job`). WeChat accepts them within 48 hours of the resident's last message and
    refuses them after (errcode 45015), and refuses a resident who unsubscribed (43004: gone).
    """

    channel = "wechat_oa"

    def __init__(self, client: OfficialAccountClient) -> None:
        super().__init__()
        self._client = client

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """``target`` is the resident's openid."""
        try:
            await asyncio.to_thread(self._client.message.send_text, target, utf8_truncate(text, MESSAGE_TEXT_BYTES))
        except Exception as error:  # wechatpy raises WeChatClientException or requests errors
            return _from_exception(self.channel, target, error)
        return DeliveryResult.delivered(self.channel, target)


class WeComAppSender(PacedSender):
    """Application messages of the WeCom app to one member, by user id (the 回访 of a staff member or grid
    worker who consulted the app)."""

    channel = "wecom"

    def __init__(self, client: WeComClient, agent_id: str) -> None:
        super().__init__()
        self._client = client
        self._agent_id = agent_id

    async def deliver(self, target: str, text: str) -> DeliveryResult:
        """``target`` is the member's user id."""
        try:
            await asyncio.to_thread(self._client.message.send_text, self._agent_id, target,
                                    utf8_truncate(text, MESSAGE_TEXT_BYTES))
        except Exception as error:  # wechatpy raises WeChatClientException or requests errors
            return _from_exception(self.channel, target, error)
        return DeliveryResult.delivered(self.channel, target)
