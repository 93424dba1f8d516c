"""``fraudbot`` as users call it: a subprocess, JSON lines in and out."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fraudbot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_classify_contract(trained_model: Path) -> None:
    lines = [
        json.dumps({"text": "刚才有人自称公安局说我涉嫌洗钱，让我转到安全账户"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"text": "你好"}, ensure_ascii=False),
        json.dumps({"nope": 1}),
        json.dumps({"text": "有人要买我的微信号和电话卡，给2000块"}, ensure_ascii=False),
    ]
    done = fraudbot("classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 5
    for item in out:
        assert set(item) >= {"scenario", "confidence", "risk", "signals", "entities"}
        assert item["risk"] in ("high", "medium", "low")
    for item in (out[0], out[2], out[4]):
        assert isinstance(item["evidence"], list) and 0.0 <= item["scam_probability"] <= 1.0
    assert out[0]["scenario"] == "impersonate_police" and out[0]["risk"] == "high"
    assert "safe_account" in out[0]["evidence"] and out[0]["scam_probability"] > 0.5
    assert "error" in out[1] and "error" in out[3]
    assert out[2]["scenario"] == "none"
    assert out[4]["scenario"] == "card_trafficking"
    assert {"entity": "money", "value": "2000"} in [
        {"entity": e["entity"], "value": e["value"]} for e in out[4]["entities"]]


def test_check_prints_the_reply(trained_model: Path) -> None:
    done = fraudbot("check", "我刚用建行给对方转了5000")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.index("110") < done.stdout.index("95533")


def test_check_plays_the_live_dialogue_as_turns_of_one_conversation(trained_model: Path) -> None:
    """Small talk gets the bot's own answer (no verdict), and the call check runs as in the live bot."""
    done = fraudbot("check", "谢谢", "有个人打电话说是快递客服，说我包裹丢了要理赔", "没有", "没有", "还没有")
    assert done.returncode == 0, done.stderr[-2000:]
    turns = done.stdout.split("── 第")[1:]
    assert len(turns) == 5
    assert "不客气" in turns[0] and not any(label in turns[0] for label in ("高风险", "需警惕", "未发现明显诈骗特征"))
    assert "转账" in turns[1] and "验证码" in turns[2] and "转出去" in turns[3]
    assert "高风险" not in turns[4] and "不像诈骗" in turns[4]


def test_classify_and_check_read_a_screenshot(trained_model: Path, tmp_path: Path) -> None:
    from tests.screenshots import sms_screenshot

    picture = tmp_path / "sms.png"
    sms = "【ETC服务】您的ETC认证已过期，请点击 http://etc-rz.top 重新认证，否则将停用"
    picture.write_bytes(sms_screenshot([sms]).png)
    lines = [json.dumps({"image": str(picture)}), json.dumps({"image": str(tmp_path / "missing.png")})]
    done = fraudbot("classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    read, missing = (json.loads(line) for line in done.stdout.splitlines())
    assert "etc-rz.top" in read["ocr_text"] and read["risk"] == "high" and read["scenario"] == "phishing_link"
    assert "error" in missing
    checked = fraudbot("check", "--image", str(picture))
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert checked.stdout.startswith("我从图片里看到：【ETC服务】") and "高风险" in checked.stdout


def test_eval_prints_scores(trained_model: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "small.csv"
    csv_file.write_text("text,scenario\n你好,none\n"
                        "\"有人高价收购银行卡，一张800\",card_trafficking\n", encoding="utf-8")
    done = fraudbot("eval", str(csv_file), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    scores = json.loads(done.stdout)
    assert scores["n"] == 2 and scores["accuracy"] == 1.0
    assert set(scores["per_scenario"]) == {"none", "card_trafficking"}
    assert scores["scam_recall"] == 1.0 and scores["none_recall"] == 1.0
    assert scores["genuine_given_high"] == 0.0 and scores["calibration_error"] is not None


def test_eval_report_prints_the_verdict_figures() -> None:
    from bot.evaluation import calibration_error, score

    results = [{"scenario": "none", "risk": "low", "scam_probability": 0.1},
               {"scenario": "romance", "risk": "high", "scam_probability": 0.9},
               {"scenario": "romance", "risk": "high", "scam_probability": 0.8}]
    scores = score(["none", "romance", "none"], results)
    assert scores.none_recall == 0.5 and scores.genuine_high == 0.5 and scores.scam_recall == 1.0
    report = scores.report()
    for words in ("macro-F1", "scam recall", "none recall", "genuine (none) given high", "calibration error"):
        assert words in report
    assert calibration_error([0.0, 1.0], [False, True]) == 0.0
    assert abs(calibration_error([0.9, 0.9], [True, False]) - 0.4) < 1e-9


def test_serve_supervises_every_process_with_the_token_off_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `fraudbot serve` starts: Rasa through bot.rasa_server (token in the environment only)."""
    from bot import cli

    launched: list[tuple[list[str], dict[str, str]]] = []

    def popen(command: list[str], env: dict[str, str], **_: object) -> object:
        launched.append((command, env))
        return object()

    monkeypatch.setattr(subprocess, "Popen", popen)
    env = {"FRAUDBOT_RASA_TOKEN": "s3cret"}
    children = cli._serve_children(Path("model.tar.gz"), chat=False, env=env)
    assert [child.name for child in children] == ["actions", "rasa", "alerts-worker", "admin", "daily"]
    assert not any(child.final for child in children)  # every one is restarted when it dies
    for child in children:
        child.start()
    rasa_command, rasa_env = launched[1]
    assert rasa_command[1:4] == ["-m", "bot.rasa_server", "run"] and "--enable-api" in rasa_command
    assert "s3cret" not in " ".join(rasa_command) and "--auth-token" not in rasa_command
    assert rasa_env["FRAUDBOT_RASA_TOKEN"] == "s3cret"

    with_api = cli._serve_children(Path("model.tar.gz"), chat=True, env={**env, "FRAUDBOT_API_TOKEN": "a"})
    assert [child.name for child in with_api][-1] == "alerts-api"
    assert [child.name for child in with_api if child.final] == ["rasa"]  # the chat ending ends the service
