"""``fraudbot``: classify, check and evaluate with the trained model; run the bot.

    fraudbot classify < in.jsonl > out.jsonl   one JSON line out per JSON line in
    fraudbot check "文本" ["下一句" …]            what a resident reads (several: turns of one chat)
    fraudbot eval FILE.csv                       scores on a text,scenario CSV
    fraudbot serve [--chat]                      action server + Rasa server (or terminal chat) + admin + alerts,
                                                 each restarted when it dies (bot/supervisor.py)
    fraudbot validate [ROOT]                     Rasa's and the project's checks of the content files
    fraudbot admin create-user LOGIN --role admin   an account for the web admin
    fraudbot admin serve                         the web admin alone
    fraudbot db upgrade | current                bring the store's schema to this release / print its revision
    fraudbot known import FILE                   known scam texts, JSON lines {"text", "scenario", "source"}
    fraudbot indicator import FILE | list | confirm VALUE --kind K --officer NAME [--expires-days N]
                       | reject VALUE --kind K | expire VALUE --kind K   decisions audited as cli:<officer>
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bot import daily_commands, privacy
from bot.nlu_client import DEFAULT_MODEL, PROJECT_ROOT, quiet_logs
from bot.processes import spawn, start_action_server
from bot.supervisor import Child, Supervisor

if TYPE_CHECKING:
    from sanic import Sanic

ACTION_PORT = 5055
RASA_PORT = 5005
ADMIN_PORT = 5002
# Every internal server listens on loopback unless one of these names another interface.
ADMIN_HOST_ENV = "FRAUDBOT_ADMIN_HOST"
ALERTS_API_HOST_ENV = "FRAUDBOT_ALERTS_API_HOST"


async def _classify(model: Path) -> int:
    from bot.nlu_client import Classifier

    classifier = await Classifier.load(model)
    out = sys.stdout
    for raw in sys.stdin:
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                result = await _classify_image(classifier, Path(item["image"]))
            else:
                text = item["text"] if isinstance(item, dict) else None
                if not isinstance(text, str):
                    raise ValueError('expected {"text": "..."} or {"image": "/path/to.png"}')
                result = await classifier.classify(text)
        except (ValueError, KeyError) as error:
            result = {"scenario": "none", "confidence": 0.0, "scam_probability": 0.0, "risk": "low",
                      "signals": [], "evidence": [], "entities": [], "error": str(error)}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    return 0


async def _classify_image(classifier: object, path: Path) -> dict:
    """``{"image": path}``: the usual fields for the text read from the picture, plus ``ocr_text``."""
    from bot.ocr import reader

    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    reading = await reader().read(data)
    if reading.problem:
        raise ValueError(f"image not read: {reading.problem}")
    return {**await classifier.classify(reading.text), "ocr_text": reading.text}


async def _check(model: Path, turns: list[str], image: Path | None = None) -> int:
    """Play ``turns`` as one conversation through the live dialogue and print what the resident reads."""
    from bot.dialogue import Dialogue

    dialogue = await Dialogue.start(model)
    try:
        if image is not None:
            for message in await dialogue.show(image.read_bytes()):
                print((message.get("text") or "") + "\n")
        for number, text in enumerate(turns, 1):
            if len(turns) > 1:
                print(f"── 第{number}句：{text}")
            for message in await dialogue.say(text):
                buttons = " ".join(f"[{b.get('title')}]" for b in message.get("buttons") or ())
                print((message.get("text") or "") + (f"\n{buttons}" if buttons else "") + "\n")
    finally:
        await dialogue.stop()
    return 0


async def _eval(model: Path, path: Path, as_json: bool) -> int:
    from bot.evaluation import read_labelled, score
    from bot.nlu_client import Classifier

    rows = read_labelled(path)
    classifier = await Classifier.load(model)
    predicted = [await classifier.classify(text) for text, _ in rows]
    scores = score([label for _, label in rows], predicted)
    print(json.dumps(scores.as_dict(), ensure_ascii=False, indent=2) if as_json else scores.report())
    return 0


def _rasa(*args: str) -> list[str]:
    return [sys.executable, "-m", "rasa", *args]


def _serve_children(model: Path, chat: bool, env: dict[str, str]) -> list[Child]:
    """What ``fraudbot serve`` runs: action server, Rasa, alerts worker, web admin, alerts API (with a token)."""
    logs = PROJECT_ROOT / "logs"
    # Rasa's HTTP API is on, behind a token, so that the admin can load a retrained model (PUT /model);
    # bot.rasa_server reads the token from the environment, so it is not in any process's arguments.
    api = ["--enable-api", "--port", str(RASA_PORT)]
    if chat:
        rasa = ["shell", "-m", str(model), "--endpoints", "endpoints.yml", *api]
    else:
        rasa = ["run", "-m", str(model), "--endpoints", "endpoints.yml", "--credentials", "credentials.yml", *api]

    def start(args: list[str], log: Path | None = None) -> Callable[[], subprocess.Popen]:
        return lambda: spawn(*args, log=log, env=env)

    # in the terminal chat, everything but Rasa's shell writes to logs/ to keep the screen clean
    helpers_log = logs / "helpers.log" if chat else None
    children = [
        Child("actions", start(["actions.server", "--port", str(ACTION_PORT)], logs / "actions.log" if chat else None)),
        Child("rasa", start(["bot.rasa_server", *rasa]), final=chat),
        Child("alerts-worker", start(["bot.cli", "alert", "worker"], helpers_log)),
        Child("admin", start(["bot.cli", "admin", "serve"], helpers_log)),
        Child("daily", start(["bot.cli", "daily"], helpers_log)),  # retention, 研判, suggestions once a day
    ]
    if env.get("FRAUDBOT_API_TOKEN"):
        children.append(Child("alerts-api", start(["bot.cli", "alert", "api"], helpers_log)))
    return children


def _serve(model: Path, chat: bool) -> int:
    """Every process of the bot, each restarted with backoff when it dies; Ctrl-C or SIGTERM stops them all."""
    from bot.config import TOKEN_ENV, rasa_token

    (PROJECT_ROOT / "logs").mkdir(exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s",
                        filename=PROJECT_ROOT / "logs" / "supervisor.log" if chat else None)
    # the admin reads FRAUDBOT_RASA_TOKEN; children inherit it (a process's environment is private to its user)
    try:
        env = {**os.environ, TOKEN_ENV: rasa_token() or secrets.token_urlsafe(24)}
    except OSError as error:
        print(f"cannot read the Rasa token file: {error}", file=sys.stderr)
        return 2
    failure = _upgrade_store()
    if failure:
        print(failure, file=sys.stderr)
        return 2
    supervisor = Supervisor(_serve_children(model, chat, env))
    signal.signal(signal.SIGTERM, supervisor.stop)
    admin_host = env.get(ADMIN_HOST_ENV) or "127.0.0.1"
    print(f"web admin: http://{admin_host}:{ADMIN_PORT}/admin/  (first account: fraudbot admin create-user)")
    try:
        return supervisor.run()
    except KeyboardInterrupt:
        return 0


def _test_stories(model: Path) -> int:
    """Rasa's test stories (tests/stories) against the real action server."""
    actions = start_action_server(ACTION_PORT)
    try:
        return subprocess.call(
            _rasa("test", "core", "--model", str(model), "--stories", "tests/stories",
                  "--endpoints", "endpoints.yml", "--out", "results/core",
                  "--fail-on-prediction-errors"), cwd=PROJECT_ROOT)
    finally:
        actions.terminate()
        actions.wait(timeout=20)


def _alert_command(args: argparse.Namespace) -> int:
    """fraudbot alert / officer / target: sending and tracking 警情通报."""
    from bot.alerts.service import AlertService, InvalidAlert, Refused

    service = AlertService()
    try:
        if args.command == "officer":
            officer_id = service.add_officer(args.name, args.role, args.telegram_id, args.wecom_id, args.login)
            print(f"officer #{officer_id} {args.name} ({args.role})")
        elif args.command == "target" and args.action == "add":
            service.add_target(args.channel, args.address, args.name, args.region)
            print(f"target {args.channel}:{args.name} [{args.region}]")
        elif args.command == "target" and args.action == "remove":
            service.registry.retire(args.channel, args.address)
            print(f"target {args.channel}:{args.address} inactive")
        elif args.command == "target":
            for group in service.registry.active(args.channel):
                print(f"{group.channel}\t{group.chat_id}\t{group.title}\t{group.regions}")
        elif args.action == "send":
            officer = service.authorize("login", args.officer)
            body = Path(args.body_file).read_text(encoding="utf-8")
            alert_id = service.create(officer, args.title, body, args.region, args.scenario, args.severity,
                                      service.expires_in(args.expires_hours))
            status = service.status(alert_id)
            total = sum(sum(states.values()) for states in status["channels"].values())
            print(f"alert #{alert_id} queued for {total} targets; run `fraudbot alert worker` to deliver")
        elif args.action == "status":
            print(json.dumps(service.status(args.id), ensure_ascii=False, indent=2, default=str))
        elif args.action == "recall":
            service.recall(service.authorize("login", args.officer), args.id)
            print(f"alert #{args.id} recalled")
        elif args.action == "audit":
            for row in reversed(service.audit(args.limit)):
                print(f"{row['at']:%Y-%m-%d %H:%M:%S}  {row['actor']}  {row['action']}  {row['detail']}")
        elif args.action == "resend-uncertain":
            from bot.alerts.worker import OutboxWorker

            service.authorize("login", args.officer)
            print(f"{OutboxWorker(service, {}).resend_uncertain(args.id)} messages queued again")
        elif args.action == "worker":
            return asyncio.run(_alert_worker(service, args.until_idle))
        elif args.action == "api":
            from bot.alerts.api import create_app

            _run_server(create_app(service), args.host, args.port)
    except (Refused, InvalidAlert) as error:
        print(error, file=sys.stderr)
        return 2
    return 0


async def _alert_worker(service: object, until_idle: bool) -> int:
    from bot.alerts.runtime import senders_from_env
    from bot.alerts.worker import OutboxWorker

    senders = await senders_from_env()
    await OutboxWorker(service, senders).run(until_idle=until_idle)
    return 0


def _admin_command(args: argparse.Namespace) -> int:
    """fraudbot admin create-user / serve, and fraudbot validate."""
    if args.command == "validate":
        from bot.admin.content import read_files
        from bot.admin.validation import validate_files

        quiet_logs()
        problems = validate_files(read_files(args.root.resolve()))
        for problem in problems:
            print(f"{problem.path or '-'}: {problem.message}")
        print("内容检查通过。" if not problems else f"{len(problems)} 个问题。")
        return 1 if problems else 0
    if args.action == "create-user":
        from bot.admin.accounts import Accounts

        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("密码：")
        if not args.password_stdin and getpass.getpass("再输一次：") != password:
            print("两次输入的密码不一样。", file=sys.stderr)
            return 2
        try:
            officer_id = Accounts().create(args.login, args.name or args.login, args.role, password)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        print(f"account {args.login} ({args.role}), officer #{officer_id}")
        return 0
    from bot.admin.app import create_app

    _run_server(create_app(), args.host, args.port)
    return 0


def _upgrade_store() -> str | None:
    """Bring the store (``FRAUDBOT_DB_URL``) to this release's schema; what went wrong, or None.

    Every process of ``fraudbot serve`` starts only after this, so none of them meets an old schema.
    """
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from bot import migrations

    try:
        migrations.upgrade()
    except (CommandError, SQLAlchemyError) as error:
        return f"cannot upgrade the store's schema: {error}"
    return None


def _db_command(args: argparse.Namespace) -> int:
    """fraudbot db upgrade / current: the schema of the project's store (bot/migrations)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot import migrations

    head = migrations.head()
    try:
        before = migrations.current()
    except SQLAlchemyError as error:
        print(f"cannot read the store: {error}", file=sys.stderr)
        return 1
    if args.action == "current":
        print(f"{before or 'none'}{' (head)' if before == head else f' (head is {head})'}")
        return 0
    failure = _upgrade_store()
    if failure:
        print(failure, file=sys.stderr)
        return 1
    after = migrations.current()
    print(f"the store is at {after} (head), upgraded from {before or 'none'}" if after != before
          else f"the store is already at {after} (head)")
    return 0


def _json_lines(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file (blank lines skipped); a bad line stops with its number."""
    items = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if raw.strip():
            item = json.loads(raw)
            if not isinstance(item, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            items.append(item)
    return items


def _known_command(args: argparse.Namespace) -> int:
    """``fraudbot known import`` and ``fraudbot indicator import|list|confirm|reject|expire`` on FRAUDBOT_DB_URL."""
    from bot import known, scam_library

    if args.command == "known":
        added = scam_library.add_known(_json_lines(args.file))
        print(f"added {added} known scam texts")
        return 0
    if args.action == "import":
        added = known.import_indicators(_json_lines(args.file), officer=args.officer)
        print(f"added {added} indicators")
        return 0
    if args.action == "list":
        for item in known.listing(state=args.state, limit=args.limit):
            print(json.dumps({"kind": item.kind, "value": item.value, "state": item.state,
                              "report_count": item.report_count, "confirmed_by": item.confirmed_by,
                              "confirmed_at": item.confirmed_at.isoformat() if item.confirmed_at else None},
                             ensure_ascii=False))
        return 0
    return _decide_indicator(args)


def _decide_indicator(args: argparse.Namespace) -> int:
    """``confirm``, ``reject`` or ``expire`` through the review queue's decision, so that a decision made at
    the command line is in the audit log like one made in the web admin (actor ``cli:<officer>``)."""
    from datetime import timedelta

    from bot import review

    officer = (args.officer or "").strip()
    if not officer:
        print("the officer's name is needed (--officer)", file=sys.stderr)
        return 2
    if args.action == "confirm" and args.expires_days is not None and args.expires_days <= 0:
        print("--expires-days must be a positive number of days", file=sys.stderr)
        return 2
    expires_in = timedelta(days=args.expires_days) if args.action == "confirm" and args.expires_days else None
    try:
        found = review.decide_indicator(f"cli:{officer}", args.action, args.kind, args.value,
                                        expires_in=expires_in, note=getattr(args, "note", None))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"{found.kind} {found.value}: {found.state}")
    return 0


def _known_parsers(commands: argparse._SubParsersAction) -> None:
    from core.indicators import KINDS

    known = commands.add_parser("known", help="the library of known scam texts").add_subparsers(
        dest="action", required=True)
    known.add_parser("import", help='JSON lines {"text", "scenario", "source"}').add_argument("file", type=Path)
    indicator = commands.add_parser("indicator", help="numbers, domains, cards, ids and apps of scams").add_subparsers(
        dest="action", required=True)
    imported = indicator.add_parser("import", help='JSON lines {"kind", "value", "state"?, "note"?}')
    imported.add_argument("file", type=Path)
    imported.add_argument("--officer", help="who confirmed them (default: import)")
    listing = indicator.add_parser("list", help="the latest indicators")
    listing.add_argument("--state", choices=("reported", "confirmed", "rejected", "expired"))
    listing.add_argument("--limit", type=int, default=100)
    confirm = indicator.add_parser("confirm", help="an officer confirms an indicator as a scam's")
    confirm.add_argument("value")
    confirm.add_argument("--kind", required=True, choices=KINDS)
    confirm.add_argument("--officer", required=True)
    confirm.add_argument("--note")
    confirm.add_argument("--expires-days", type=int, help="no longer matched after this many days")
    reject = indicator.add_parser("reject", help="reviewed, not a scam's: residents' reports no longer mentioned")
    reject.add_argument("value")
    reject.add_argument("--kind", required=True, choices=KINDS)
    reject.add_argument("--officer", default=getpass.getuser(), help="who decided (default: this user)")
    reject.add_argument("--note")
    expire = indicator.add_parser("expire", help="no longer matched")
    expire.add_argument("value")
    expire.add_argument("--kind", required=True, choices=KINDS)
    expire.add_argument("--officer", default=getpass.getuser(), help="who decided (default: this user)")


def _run_server(app: Sanic, host: str, port: int) -> None:
    """Serve a Sanic app of ours (admin, alerts API) with the log redaction on Sanic's handlers too."""
    privacy.install()
    app.run(host=host, port=port, access_log=False, workers=1)


def _alert_parsers(commands: argparse._SubParsersAction) -> None:
    alert = commands.add_parser("alert", help="send and track 警情通报").add_subparsers(dest="action", required=True)
    send = alert.add_parser("send", help="queue an alert for every matching target")
    send.add_argument("--officer", required=True, help="the officer's login in the roster")
    send.add_argument("--title", required=True)
    send.add_argument("--body-file", required=True)
    send.add_argument("--region", required=True, help="region tags, comma-separated, or 全部")
    send.add_argument("--scenario", default="none")
    send.add_argument("--severity", default="high", choices=("high", "medium", "low"))
    send.add_argument("--expires-hours", type=float, default=72.0)
    for name in ("status", "recall", "resend-uncertain"):
        sub = alert.add_parser(name)
        sub.add_argument("id", type=int)
        if name != "status":
            sub.add_argument("--officer", required=True)
    audit = alert.add_parser("audit", help="who sent what to whom")
    audit.add_argument("--limit", type=int, default=50)
    api = alert.add_parser("api", help="HTTP API (needs FRAUDBOT_API_TOKEN)")
    api.add_argument("--host", default=os.environ.get(ALERTS_API_HOST_ENV) or "127.0.0.1",
                     help=f"interface to listen on ({ALERTS_API_HOST_ENV}, default 127.0.0.1)")
    api.add_argument("--port", type=int, default=5080)
    worker = alert.add_parser("worker", help="deliver the outbox")
    worker.add_argument("--until-idle", action="store_true", help="stop when nothing is left to send")
    officer = commands.add_parser("officer", help="add an officer to the roster")
    officer.add_argument("name")
    officer.add_argument("--role", default="officer", choices=("officer", "admin"))
    officer.add_argument("--telegram-id")
    officer.add_argument("--wecom-id")
    officer.add_argument("--login")
    channels = ("telegram", "wecom_robot", "wecom_appchat", "wechat_oa_tag")
    target = commands.add_parser("target", help="alert targets").add_subparsers(dest="action", required=True)
    add = target.add_parser("add", help="add a WeCom robot, app chat or OA tag, or set a group's regions")
    add.add_argument("channel", choices=channels)
    add.add_argument("address", help="chat id, robot key, app chat id or tag id")
    add.add_argument("--name", required=True)
    add.add_argument("--region", required=True)
    remove = target.add_parser("remove", help="mark a target inactive")
    remove.add_argument("channel", choices=channels)
    remove.add_argument("address")
    listing = target.add_parser("list", help="active targets")
    listing.add_argument("--channel", choices=channels)


def main(argv: list[str] | None = None) -> int:
    privacy.install()  # before anything logs: no resident's number in any log line
    parser = argparse.ArgumentParser(prog="fraudbot", description="反诈助手 command line")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="trained Rasa model")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("classify", help="JSON lines {\"text\"} on stdin -> one JSON line each")
    check = commands.add_parser("check", help="what a resident reads (several texts: turns of one chat)")
    check.add_argument("text", nargs="*")
    check.add_argument("--image", type=Path, help="a screenshot to read first, as a resident would send it")
    evaluate = commands.add_parser("eval", help="scores on a text,scenario CSV")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    serve = commands.add_parser("serve", help="action server + Rasa REST server")
    serve.add_argument("--chat", action="store_true", help="chat in this terminal instead")
    commands.add_parser("test-stories", help="run Rasa's test stories against the action server")
    _alert_parsers(commands)
    _known_parsers(commands)
    validate = commands.add_parser("validate", help="check the content files as the admin does before saving")
    validate.add_argument("root", type=Path, nargs="?", default=PROJECT_ROOT)
    admin = commands.add_parser("admin", help="the web admin").add_subparsers(dest="action", required=True)
    user = admin.add_parser("create-user", help="create an account (or reset its password)")
    user.add_argument("login")
    user.add_argument("--name", help="shown in the history (default: the login)")
    user.add_argument("--role", default="admin", choices=("officer", "admin"))
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    serve_admin = admin.add_parser("serve", help="the web admin on its own")
    serve_admin.add_argument("--host", default=os.environ.get(ADMIN_HOST_ENV) or "127.0.0.1",
                             help=f"interface to listen on ({ADMIN_HOST_ENV}, default 127.0.0.1)")
    serve_admin.add_argument("--port", type=int, default=ADMIN_PORT)
    daily_commands.add_parsers(commands)
    db = commands.add_parser("db", help="the schema of the project's store")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="bring the store (FRAUDBOT_DB_URL) to this release's schema")
    db_actions.add_parser("current", help="print the store's schema revision")
    args = parser.parse_args(argv)
    if args.command == "db":
        return _db_command(args)
    if args.command in ("alert", "officer", "target"):
        return _alert_command(args)
    if args.command in ("known", "indicator"):
        return _known_command(args)
    if args.command in ("report", "retention", "daily", "followup"):
        return daily_commands.run(args)
    if args.command in ("admin", "validate"):
        return _admin_command(args)

    model = args.model.resolve()
    if args.command in ("classify", "check", "eval"):
        quiet_logs()
    if args.command == "classify":
        return asyncio.run(_classify(model))
    if args.command == "check":
        if not args.text and args.image is None:
            parser.error("check needs a text or --image PATH")
        return asyncio.run(_check(model, args.text, args.image))
    if args.command == "eval":
        return asyncio.run(_eval(model, args.file, args.json))
    if args.command == "serve":
        return _serve(model, args.chat)
    return _test_stories(model)


if __name__ == "__main__":
    sys.exit(main())
