"""Known scams: near-duplicate matching of scam texts, the store of indicators, and both in the verdict."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import requests
import yaml
from datasketch import MinHash
from sqlalchemy import select

from bot.fingerprints import NUM_PERM, SEED, SIMILARITY_THRESHOLD, fingerprint, signature, similarity
from bot.scam_library import KnownIndex, add_known, known_scams
from bot.store import engine
from core.replies import compose
from core.verdict import Case
from nlu.entities import redact

EVAL = Path(__file__).resolve().parent / "data" / "known_scams_eval.yml"
# Characters a 10 % edit puts in: common ones, so an edit reads like a typo or a changed word.
_FILLER = "的了是我你他在有这个们来到说和要就也都不很会能去对把还没吗呢吧啊"


@cache
def load_eval() -> dict:
    return yaml.safe_load(EVAL.read_text(encoding="utf-8"))


def perturbations(scam: dict, seed: int) -> list[tuple[str, str]]:
    """The ways a pasted copy differs from the library's text: the writer's own copy (other digits,
    link, names), new digits, a new link, punctuation and spacing, and ~10 % of characters changed."""
    text = scam["text"]
    rng = random.Random(seed)
    digits = re.sub(r"\d", lambda _m: str(rng.randint(0, 9)), text)
    link = re.sub(r"(https?://)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.(top|cn|cc|vip|xyz)(/\S*)?", "http://x-new9.shop/q",
                  text)
    punctuation = re.sub(r"[，。！、：；]", lambda _m: rng.choice([" ", ",", "!", "", "  "]), text)
    chars = list(text)
    han = [i for i, ch in enumerate(chars) if "\u4e00" <= ch <= "\u9fff"]
    for i in rng.sample(han, max(1, len(chars) // 10)):
        chars[i] = rng.choice(_FILLER)
    return [("copy", scam["copy"]), ("digits", digits), ("link", link), ("punctuation", punctuation),
            ("characters", "".join(chars))]


# -- the threshold, chosen on the validation part only ------------------------------------------------

def scores(part: str) -> tuple[list[float], list[float]]:
    """Similarity of every perturbed copy to its own text, and of every genuine message to its best known text."""
    scams, genuine = load_eval()[part]["scams"], load_eval()[part]["genuine"]
    prints = [fingerprint(s["text"]) for s in scams]
    positives = [similarity(fingerprint(variant), prints[i])
                 for i, scam in enumerate(scams) for _name, variant in perturbations(scam, i)]
    negatives = [max(similarity(fingerprint(text), p) for p in prints) for text in genuine]
    return positives, negatives


def choose_threshold(positives: list[float], negatives: list[float]) -> float:
    """The midpoint between the best genuine score and the worst copy's, rounded down to 0.05."""
    return math.floor((min(positives) + max(negatives)) / 2 / 0.05) * 0.05


def test_the_threshold_is_the_one_chosen_on_the_validation_part() -> None:
    positives, negatives = scores("validation")
    assert min(positives) > max(negatives)
    assert choose_threshold(positives, negatives) == pytest.approx(SIMILARITY_THRESHOLD)


@pytest.fixture()
def store_url() -> str:
    folder = Path(tempfile.mkdtemp(prefix="fraudbot-"))
    return f"sqlite:///{folder / 'store.db'}"


def test_copies_match_and_genuine_messages_do_not_on_the_test_part(store_url: str) -> None:
    test = load_eval()["test"]
    assert add_known([{"text": s["text"], "source": "import", "scenario": ""} for s in test["scams"]], store_url) \
        == len(test["scams"])
    index = KnownIndex(store_url)
    texts = {row.id: row.text for row in _rows(store_url)}
    missed = []
    for i, scam in enumerate(test["scams"]):
        for name, variant in perturbations(scam, 1000 + i):
            found = index.match(variant)
            if found is None or fingerprint(texts[found.id]) != fingerprint(redact(scam["text"])):
                missed.append((name, variant))
    assert not missed
    wrongly = [text for text in test["genuine"] if index.match(text) is not None]
    assert not wrongly


def _rows(url: str) -> list:
    with engine(url).connect() as db:
        return list(db.execute(select(known_scams)))


def test_the_library_never_holds_a_personal_number(store_url: str) -> None:
    add_known([{"text": "妈，我换号了，新号13812345678，先转3000到6222021234567890123，加微信 wxid_abc123 联系",
                "source": "case:1"}], store_url)
    (row,) = _rows(store_url)
    assert not re.search(r"\d{7,}", row.text) and "wxid_abc123" not in row.text
    assert "13812345678" not in row.fingerprint


def test_the_index_sees_new_rows_and_a_short_message_never_matches(store_url: str) -> None:
    index = KnownIndex(store_url, refresh_seconds=0)
    scam = load_eval()["validation"]["scams"][0]
    assert index.match(scam["copy"]) is None
    add_known([{"text": scam["text"], "source": "import"}], store_url)
    assert index.match(scam["copy"]) is not None and len(index) == 1
    assert index.match("ETC认证过期") is None


def test_the_minhash_values_are_datasketchs_so_stored_rows_stay_valid() -> None:
    """bot.known computes the MinHash in numpy; the store holds values written by datasketch's MinHash."""
    for scam in load_eval()["validation"]["scams"]:
        print_ = fingerprint(scam["text"])
        reference = MinHash(num_perm=NUM_PERM, seed=SEED)
        reference.update_batch([print_[i:i + 2].encode("utf-8") for i in range(len(print_) - 1)])
        assert np.array_equal(signature(print_), reference.hashvalues.astype(np.uint32))


def test_a_removed_text_leaves_the_index_when_another_is_added(store_url: str) -> None:
    index = KnownIndex(store_url, refresh_seconds=0)
    first, second, third = load_eval()["validation"]["scams"][:3]
    add_known([{"text": first["text"], "source": "import"}, {"text": second["text"], "source": "import"}], store_url)
    assert index.match(first["copy"]) is not None and index.match(second["copy"]) is not None
    with engine(store_url).begin() as db:
        db.execute(known_scams.delete().where(known_scams.c.id == index.match(first["copy"]).id))
    add_known([{"text": third["text"], "source": "import"}], store_url)
    assert index.match(first["copy"]) is None and len(index) == 2
    assert index.match(second["copy"]) is not None and index.match(third["copy"]) is not None


def test_after_the_first_load_new_rows_come_in_through_a_background_refresh(store_url: str) -> None:
    index = KnownIndex(store_url, refresh_seconds=1e-9)
    scam = load_eval()["validation"]["scams"][1]
    assert index.match(scam["copy"]) is None  # the first load, in the caller's thread
    add_known([{"text": scam["text"], "source": "import"}], store_url)
    index.match(scam["copy"])  # due: starts the refresh beside this match
    for thread in threading.enumerate():
        if thread.name == "known-index-refresh":
            thread.join(timeout=30)
    assert len(index) == 1 and index.match(scam["copy"]) is not None


def test_an_alert_joins_the_library_and_a_pasted_copy_names_it(store_url: str) -> None:
    from bot.alerts.service import AlertService

    service = AlertService(store_url)
    officer_id = service.add_officer("张警官", login="zhang")
    officer = service.authorize("login", "zhang")
    assert officer.id == officer_id
    body = ("近期有骗子冒充ETC客服发短信：您的ETC认证已过期，请点击链接重新认证。"
            "链接是钓鱼网站，会骗取银行卡号和验证码。")
    alert_id = service.create(officer, "冒充ETC客服的短信", body, "全部", scenario="phishing_link")
    pasted = "我收到：您的ETC认证已过期，请点击链接重新认证。链接是钓鱼网站，会骗取银行卡号和验证码"
    found = KnownIndex(store_url).match(pasted)
    assert found is not None and found.source == f"alert:{alert_id}" and found.title == "冒充ETC客服的短信"
    case = Case(text="您的ETC认证已过期，请点击链接重新认证", scenario="none", confidence=0.2, scam_probability=0.2,
                known={"id": found.id, "similarity": found.similarity, "source": found.source, "title": found.title,
                       "added_at": "2026-11-20"})
    reply = compose(case)
    assert reply.risk == "high"
    assert "和11月20日警情通报《冒充ETC客服的短信》是同一种骗局" in reply.messages[0]
    assert len(reply.messages) <= 3 and all(len(m) <= 200 for m in reply.messages)


def _seeded_store() -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='fraudbot-')) / 'store.db'}"
    from bot import known

    known.confirm("phone", "+86 139-0000-2222", officer="王警官", url=url)
    return url, {**os.environ, "FRAUDBOT_DB_URL": url}


def test_classify_shows_the_known_match_and_the_indicators(trained_model: Path) -> None:
    url, env = _seeded_store()
    scam = load_eval()["validation"]["scams"][0]
    add_known([{"text": scam["text"], "source": "import"}], url)
    lines = "\n".join(json.dumps({"text": t}, ensure_ascii=False)
                      for t in ["刚才13900002222打电话说我孩子出事了", scam["copy"], "今天天气不错"]) + "\n"
    done = subprocess.run([sys.executable, "-m", "bot.cli", "--model", str(trained_model), "classify"], input=lines,
                          capture_output=True, text=True, env=env, timeout=300, check=True)
    first, second, third = (json.loads(line) for line in done.stdout.splitlines())
    assert first["indicators"] == [{"kind": "phone", "value": "13900002222", "state": "confirmed"}]
    assert first["risk"] == "high" and first["known"] is None
    assert second["known"]["source"] == "import" and second["known"]["similarity"] >= SIMILARITY_THRESHOLD
    assert third["known"] is None and third["indicators"] == []


def test_a_confirmed_number_through_the_rest_channel_is_high_and_named(trained_model: Path) -> None:
    from bot.processes import free_port, start_action_server, stop
    from tests.conftest import start_rasa

    _url, env = _seeded_store()
    port = free_port()
    actions = start_action_server(port, quiet=True, env=env)
    try:
        rasa, base = start_rasa(trained_model, f"http://127.0.0.1:{port}/webhook",
                                Path(tempfile.mkdtemp(prefix="fraudbot-")), "rasa.log", env=env)
        try:
            answer = requests.post(f"{base}/webhooks/rest/webhook", timeout=60, json={
                "sender": "known-1", "message": "刚才+86 139-0000-2222给我打电话，说是快递客服要给我理赔"}).json()
        finally:
            stop(rasa)
    finally:
        stop(actions)
    texts = [item["text"] for item in answer]
    assert "高风险" in texts[0] and "这个号码已被公安机关确认为诈骗号码" in texts[0]
