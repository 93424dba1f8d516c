"""One bot with every resident-facing channel, for end-to-end tests of what happens across them.

A store of its own, the real action server and one real Rasa server with the trained model, serving REST,
Telegram (against the fake Bot API) and the WeChat Official Account (against the fake WeChat API). The 举报 and
回访 tests each start one for their module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.processes import free_port, start_action_server, stop
from tests.conftest import start_rasa
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.test_telegram import SECRET
from tests.test_wechat import AES_KEY, APPID, TOKEN


@contextmanager
def channel_stack(model: Path, env: dict[str, str] | None = None, rasa_args: tuple[str, ...] = (),
                  seed: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """The running bot: ``url`` (Rasa), ``db`` (the store, first given to ``seed``), the fakes ``telegram`` and
    ``wechat``, and Rasa's ``log``. ``env`` is added to every process's environment."""
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    folder.chmod(0o755)
    url = f"sqlite:///{folder / 'store.db'}"
    if seed is not None:
        seed(url)
    telegram, wechat = FakeTelegram().start(), FakeWeChat().start()
    full_env = {**os.environ, "FRAUDBOT_DB_URL": url, "WECHAT_API_BASE_URL": wechat.base_url,
                "FRAUDBOT_TELEGRAM_GROUP_PER_MINUTE": "1000", **(env or {})}  # the fake Bot API sets no limits
    credentials = folder / "credentials.yml"
    credentials.write_text(
        "bot.channels.rest.SafeRestInput:\n"
        "bot.channels.telegram.TelegramInput:\n"
        f'  token: "123456:TEST"\n  webhook_secret: "{SECRET}"\n  api_base_url: "{telegram.base_url}"\n'
        "bot.channels.wechat.OfficialAccountInput:\n"
        f'  token: "{TOKEN}"\n  aes_key: "{AES_KEY}"\n  appid: "{APPID}"\n  secret: "oa-secret"\n'
        "  passive_timeout: 4.0\n", encoding="utf-8")
    port = free_port()
    actions = start_action_server(port, quiet=True, env=full_env)
    try:
        rasa, base = start_rasa(model, f"http://127.0.0.1:{port}/webhook", folder, "rasa.log", credentials,
                                env=full_env, args=rasa_args)
        try:
            assert telegram.wait_for(lambda: telegram.count("getMe") >= 1, 60), "the Telegram bot never initialised"
            yield {"url": base, "db": url, "telegram": telegram, "wechat": wechat, "log": folder / "rasa.log"}
        finally:
            stop(rasa)
    finally:
        stop(actions)
        telegram.stop()
        wechat.stop()
        shutil.rmtree(folder, ignore_errors=True)
