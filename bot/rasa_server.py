"""``rasa run`` (or ``rasa shell``) with the API token taken from the environment, not the command line.

A process's arguments are readable by every user of the machine (``ps``, ``/proc/<pid>/cmdline``),
so ``--auth-token`` there gives away the key to Rasa's HTTP API (``PUT /model`` replaces the
bot). This module reads the token from ``FRAUDBOT_RASA_TOKEN`` or from the file named by
``FRAUDBOT_RASA_TOKEN_FILE`` (a systemd credential or a secret mounted 0400) and hands it to
Rasa's own command line inside this process: the arguments the kernel shows stay token-free.

It also binds Rasa to loopback unless ``FRAUDBOT_RASA_HOST`` (or an explicit ``-i``) says
otherwise: Rasa's default is every interface.

    FRAUDBOT_RASA_TOKEN=… python -m bot.rasa_server run -m models/fraudbot.tar.gz --enable-api
"""

from __future__ import annotations

import os
import sys

from bot import privacy, rasa_fixes
from bot.config import TOKEN_ENV, TOKEN_FILE_ENV, rasa_token

HOST_ENV = "FRAUDBOT_RASA_HOST"
DEFAULT_HOST = "127.0.0.1"


def rasa_argv(args: list[str], token: str, host: str) -> list[str]:
    """Rasa's own arguments with the token and the listening interface added (never shown to the kernel)."""
    if any(arg == "--auth-token" or arg.startswith("--auth-token=") for arg in args):
        raise SystemExit("pass the token in FRAUDBOT_RASA_TOKEN or FRAUDBOT_RASA_TOKEN_FILE, not on the command line")
    extra = [f"--auth-token={token}"] if token else []  # "=": a token may start with "-"
    if not any(arg in ("-i", "--interface") or arg.startswith("--interface=") for arg in args):
        extra += ["--interface", host]
    return ["rasa", *args, *extra]


def main(argv: list[str] | None = None) -> None:
    """Run Rasa's command line in this process with the token from the environment."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("run", "shell"):
        raise SystemExit("usage: python -m bot.rasa_server run|shell [rasa arguments]")
    try:
        token = rasa_token()
    except OSError as error:
        raise SystemExit(f"cannot read the Rasa token from {TOKEN_FILE_ENV}: {error}") from error
    if "--enable-api" in args and not token:
        raise SystemExit(f"--enable-api needs a token in {TOKEN_ENV} or {TOKEN_FILE_ENV}")
    # Python's sys.argv is this interpreter's copy: replacing it does not change what the
    # kernel reports as the command line, which stays ``python -m bot.rasa_server run …``.
    sys.argv = rasa_argv(args, token, os.environ.get(HOST_ENV) or DEFAULT_HOST)
    privacy.install()  # Rasa logs texts at DEBUG and on some errors: redacted from the first record
    rasa_fixes.install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
