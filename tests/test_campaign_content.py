"""宣传 content (``core/data/campaign.yml``): the shipped set, its checks, what is sent, and its admin pages.

The pages are driven through the real admin app on loopback (as ``tests/test_review_routes.py`` does), with
the project's own content checks as the validator (Rasa's are not involved in this file); the real browser
test with the full stack is ``tests/test_campaign_browser.py``.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from sanic import Sanic

from bot.admin.accounts import Accounts
from bot.admin.content import read_files, training_key, unified_diff, write_files
from bot.admin.routes.campaign_content import delete_item, edit_item, next_id
from bot.admin.validation import CAMPAIGN, own_problems
from bot.config import AdminConfig
from core import campaign
from core.knowledge import report_lines
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS
from tests.test_review_routes import Client, run

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "core" / "data" / "campaign.yml"
PASSWORD = "a long enough password"  # tests.test_review_routes.Client signs in with it


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


# --- the shipped set -----------------------------------------------------------------------------

def test_the_shipped_file_passes_every_check(shipped: dict[str, Any]) -> None:
    assert campaign.problems(shipped) == []
    assert [p for p in own_problems(read_files(ROOT)) if p.path == CAMPAIGN] == []


def test_counts_and_every_scenario_covered(shipped: dict[str, Any]) -> None:
    tips, stories, questions = campaign.tips(), campaign.stories(), campaign.questions()
    assert len(tips) >= 60 and len(stories) >= 20 and len(questions) >= 80
    assert (len(tips), len(stories), len(questions)) == tuple(len(shipped[k]) for k in campaign.KINDS)
    for counts, least in ((Counter(t.scenario for t in tips), 3), (Counter(s.scenario for s in stories), 1),
                          (Counter(q.scenario for q in questions), 4)):
        assert set(counts) == set(SCENARIO_IDS) and NONE_SCENARIO not in counts
        assert min(counts.values()) >= least, counts


def test_the_right_answer_is_not_always_the_same_letter() -> None:
    letters = Counter(campaign.LETTERS[q.answer] for q in campaign.questions())
    assert set(letters) == {"A", "B", "C"} and min(letters.values()) >= len(campaign.questions()) // 5, letters


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


@pytest.mark.parametrize("texts", [
    lambda: [t.text for t in campaign.tips()],
    lambda: [q.question for q in campaign.questions()],
    lambda: [" ".join(s.lines[:-1]) for s in campaign.stories()],  # the last lines all end with 96110
], ids=["tips", "questions", "stories"])
def test_no_two_items_are_near_copies(texts: Callable[[], list[str]]) -> None:
    for a, b in itertools.combinations(texts(), 2):
        overlap = len(bigrams(a) & bigrams(b)) / len(bigrams(a) | bigrams(b))
        assert overlap < 0.5, (a, b)


def test_the_only_numbers_named_are_official_lines() -> None:
    official = campaign.official_numbers(report_lines())
    named = Counter()
    for text in [*(t.text for t in campaign.tips()), *(line for s in campaign.stories() for line in s.lines),
                 *(q.question for q in campaign.questions()), *(c for q in campaign.questions() for c in q.choices),
                 *(q.explanation for q in campaign.questions())]:
        assert campaign.stray_numbers(text, official) == [], text
        named.update(n for n in re.findall(r"\d{3,}", text) if not re.search(rf"{n}\s*[元%]", text))
    assert set(named) <= {"110", "96110", "12321"} and named["96110"] >= 20


# --- each check, on a broken copy ------------------------------------------------------------------

def first(data: dict[str, Any], kind: str) -> dict[str, Any]:
    return data[kind][0]


BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("missing text", lambda d: first(d, "tips").pop("text"), "text", "请填写内容"),
    ("blank title", lambda d: first(d, "stories").update(title="  "), "title", "请填写标题"),
    ("missing explanation", lambda d: first(d, "quiz").pop("explanation"), "explanation", "请填写解析"),
    ("missing answer", lambda d: first(d, "quiz").pop("answer"), "answer", "请选出正确答案"),
    ("duplicate id", lambda d: d["quiz"][1].update(id=d["quiz"][0]["id"]), "id", "编号重复"),
    ("id across kinds", lambda d: first(d, "stories").update(id=first(d, "tips")["id"]), "id", "编号"),
    ("id shape", lambda d: first(d, "tips").update(id="tip_Police-1"), "id", "小写字母"),
    ("id prefix", lambda d: first(d, "tips").update(id="quiz_tip_1"), "id", "以「tip_」开头"),
    ("unknown scenario", lambda d: first(d, "tips").update(scenario="lottery"), "scenario", "没有「lottery」"),
    ("none is no campaign scenario", lambda d: first(d, "quiz").update(scenario="none"), "scenario", "没有「none」"),
    ("tip too long", lambda d: first(d, "tips").update(text="骗" * 121), "text", "最多 120 个字"),
    ("title too long", lambda d: first(d, "stories").update(title="题" * 31), "title", "最多 30 个字"),
    ("question too long", lambda d: first(d, "quiz").update(question="问" * 121), "question", "最多 120 个字"),
    ("choice too long", lambda d: first(d, "quiz")["choices"].__setitem__(0, "选" * 41), "choices", "最多 40 个字"),
    ("explanation too long", lambda d: first(d, "quiz").update(explanation="解" * 81), "explanation", "最多 80 个字"),
    ("story too short", lambda d: first(d, "stories").update(lines=first(d, "stories")["lines"][-2:]), "lines",
     "3–5 行"),
    ("story too long", lambda d: first(d, "stories")["lines"].insert(0, "又一行。") or
     first(d, "stories")["lines"].insert(0, "再一行。"), "lines", "3–5 行"),
    ("story without 96110", lambda d: first(d, "stories")["lines"].__setitem__(-1, "记住：别转账。"), "lines",
     "96110"),
    ("one choice", lambda d: first(d, "quiz").update(choices=["挂断"], answer=0), "choices", "2–4 个选项"),
    ("five choices", lambda d: first(d, "quiz").update(choices=list("甲乙丙丁戊")), "choices", "2–4 个选项"),
    ("same choice twice", lambda d: first(d, "quiz").update(choices=["挂断", "挂断"], answer=0), "choices",
     "一模一样"),
    ("answer out of range", lambda d: first(d, "quiz").update(answer=len(first(d, "quiz")["choices"])), "answer",
     "其中一个选项"),
    ("answer not a number", lambda d: first(d, "quiz").update(answer="B"), "answer", "其中一个选项"),
    ("a mobile number", lambda d: first(d, "tips").update(text="有事打13912345678问问。"), "text",
     "「13912345678」不是官方电话号码"),
    ("a made-up hotline", lambda d: first(d, "quiz")["choices"].__setitem__(0, "打12345核实"), "choices",
     "「12345」不是官方电话号码"),
    ("a number in a story", lambda d: first(d, "stories")["lines"].__setitem__(0, "对方留了 0571-8765 4321。"),
     "lines", "不是官方电话号码"),
]


@pytest.mark.parametrize(("name", "break_it", "field", "words"), BREAKS, ids=[b[0] for b in BREAKS])
def test_each_problem_is_caught_on_a_broken_copy(shipped: dict[str, Any], name: str,
                                                 break_it: Callable[[dict[str, Any]], None],
                                                 field: str, words: str) -> None:
    broken = copy.deepcopy(shipped)
    break_it(broken)
    found = campaign.issues(broken)
    assert any(issue.field == field and words in issue.message for issue in found), (name, found)
    assert campaign.problems(broken) == [issue.message for issue in found]


def test_a_scenario_keeps_a_tip_and_a_question(shipped: dict[str, Any]) -> None:
    for kind, what in (("tips", "小贴士"), ("quiz", "答题")):
        broken = copy.deepcopy(shipped)
        broken[kind] = [e for e in broken[kind] if e["scenario"] != "romance"]
        assert campaign.problems(broken) == [f"场景「romance」至少要留 1 条{what}：每日提醒和答题会按场景挑选。"]


def test_a_file_that_is_not_the_shape_is_refused() -> None:
    assert campaign.problems(["tips"]) and campaign.problems({"tips": "一条"})
    assert any("格式不对" in m for m in campaign.problems({"tips": ["只是一句话"], "quiz": [], "stories": []}))


def test_official_numbers_come_from_the_report_lines_and_amounts_are_not_numbers() -> None:
    official = campaign.official_numbers(report_lines())
    assert {"110", "96110", "12321", "12381", "95588", "95516"} <= official and "12345" not in official
    allowed = ["打110和96110", "110 96110", "0571-96110的来电", "工商银行95588", "转了20000元", "收益30%",
               "尾号3481的卡", "２０２４年", "1.5万"]
    assert [campaign.stray_numbers(text, official) for text in allowed] == [[]] * len(allowed)
    assert campaign.stray_numbers("打１３９１２３４５６７８", official) == ["13912345678"]
    assert campaign.stray_numbers("拨120或12345", official) == ["120", "12345"]
    # a number added to the report lines may then be named (the admin checks against its draft's lines)
    lines = copy.deepcopy(report_lines())
    lines["banks"]["示例银行"] = "95599"
    assert campaign.stray_numbers("打95599", campaign.official_numbers(lines)) == []


# --- what is sent ------------------------------------------------------------------------------

def test_render_functions() -> None:
    question = campaign.Question("quiz_x_1", "romance", "网友借钱，您会？", ("转给他", "先打96110问问"), 1,
                                 "没见过面就借钱的，多半是骗子。")
    assert campaign.render_question(question) == "网友借钱，您会？\nA. 转给他\nB. 先打96110问问"
    story = campaign.Story("story_x_1", "romance", "网恋", ("认识了一位网友。", "他借钱。", "拿不准就打96110。"))
    assert campaign.render_story(story) == "【反诈故事】网恋\n认识了一位网友。\n他借钱。\n拿不准就打96110。"
    assert campaign.render_tip(campaign.Tip("tip_x_1", "romance", "不见面就借钱的，是骗子。")) == \
        "【反诈小贴士】不见面就借钱的，是骗子。"
    for q in campaign.questions():
        rendered = campaign.render_question(q).splitlines()
        assert rendered[0] == q.question and len(rendered) == 1 + len(q.choices)
        assert rendered[1 + q.answer] == f"{campaign.LETTERS[q.answer]}. {q.choices[q.answer]}"
    for s in campaign.stories():
        assert campaign.render_story(s).endswith(s.lines[-1]) and "96110" in campaign.render_story(s).splitlines()[-1]


def test_read_from_the_content_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidate's copy (``FRAUDBOT_CONTENT_DIR``) is what is read, and a change is read at once."""
    write_files(tmp_path, {CAMPAIGN: SHIPPED.read_text(encoding="utf-8")})
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(tmp_path))
    first_tip = campaign.tips()[0]
    text = edit_item((tmp_path / CAMPAIGN).read_text("utf-8"), "tips", first_tip.id,
                     {"scenario": first_tip.scenario, "text": "候选版本的小贴士，拿不准就打96110。"})
    (tmp_path / CAMPAIGN).write_text(text + "\n# changed\n", encoding="utf-8")
    assert campaign.tips()[0].text == "候选版本的小贴士，拿不准就打96110。"
    assert campaign.by_id()[first_tip.id] == campaign.tips()[0]
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(tmp_path / "nothing"))
    assert campaign.tips() == [] and campaign.questions() == []


# --- edits of the file ------------------------------------------------------------------------------

def changed_lines(old: str, new: str) -> list[str]:
    return [line for line in unified_diff({CAMPAIGN: old}, {CAMPAIGN: new}).splitlines()
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]


def test_an_edit_changes_only_its_lines_and_needs_no_training() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    question = data["quiz"][3]
    new = edit_item(text, "quiz", question["id"], {**question, "explanation": "骗子会演戏，挂断后自己拨110。"})
    assert changed_lines(text, new) == [f'-    explanation: "{question["explanation"]}"',
                                        '+    explanation: "骗子会演戏，挂断后自己拨110。"']
    files = read_files(ROOT)
    assert training_key({**files, CAMPAIGN: new}) == training_key(files)

    added_id = next_id(data, "stories", "romance")
    assert added_id == "story_romance_3"
    added = edit_item(text, "stories", added_id, {"scenario": "romance", "title": "新故事",
                                                  "lines": ["一。", "二。", "拿不准就打96110。"]})
    stories = yaml.safe_load(added)["stories"]
    place = [s["id"] for s in stories].index(added_id)
    assert stories[place - 1]["scenario"] == "romance" and stories[place + 1]["scenario"] != "romance"
    assert campaign.problems(yaml.safe_load(added)) == []
    assert delete_item(added, added_id) == text


# --- the admin pages -------------------------------------------------------------------------------

@pytest.fixture
def admin_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sanic:
    """The real admin app with the project's own content checks (campaign ones included) as its validator."""
    from bot.admin.app import create_app

    monkeypatch.setenv("FRAUDBOT_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setattr(Sanic, "test_mode", True)
    live = tmp_path / "live"
    write_files(live, read_files(ROOT))
    monkeypatch.setenv("FRAUDBOT_CONTENT_DIR", str(live))
    config = AdminConfig(live_root=live, admin_dir=tmp_path / "admin", rasa_urls=(), rasa_token="",
                         live_model=tmp_path / "model.tar.gz", endpoints=tmp_path / "endpoints.yml",
                         secure_cookies=False)
    app = create_app(config, validate=own_problems)
    accounts = Accounts()
    accounts.create("li", "李警官", "admin", PASSWORD)
    accounts.create("wang", "王警官", "officer", PASSWORD)
    return app


def draft_text(app: Sanic) -> str:
    return app.ctx.admin.draft.read(CAMPAIGN)


def test_the_list_shows_every_scenario_with_its_items(admin_app: Sanic) -> None:
    async def steps(client: Client) -> tuple[int, str]:
        await client.login("li")
        return await client.get("/admin/campaign-content")

    status, page = run(admin_app, steps)
    assert status == 200 and "宣传内容" in page
    totals = re.search(r'id="totals">(.*?)</p>', page).group(1)
    assert f"{len(campaign.tips())} 条小贴士" in totals and f"{len(campaign.questions())} 道答题。" in totals
    for sid in SCENARIO_IDS:
        assert f'id="scenario-{sid}"' in page and f"/admin/campaign-content/new?kind=quiz&amp;scenario={sid}" in page
    for item in [*campaign.tips(), *campaign.stories(), *campaign.questions()]:
        assert f'href="/admin/campaign-content/{item.id}"' in page


def test_an_admin_edits_adds_and_deletes_and_puts_it_live(admin_app: Sanic) -> None:
    tip = campaign.tips()[0]
    new_text = "接到说您涉嫌洗钱的电话，别慌，也别转账。公检法没有安全账户，挂断后打96110问问。"
    before = draft_text(admin_app)

    async def steps(client: Client) -> dict[str, Any]:
        await client.login("li")
        seen: dict[str, Any] = {"form": await client.get(f"/admin/campaign-content/{tip.id}")}
        seen["too_long"] = await client.post(f"/admin/campaign-content/{tip.id}",
                                             {"scenario": tip.scenario, "text": "骗" * 200})
        seen["draft_after_refusal"] = draft_text(admin_app)
        seen["saved"] = await client.post(f"/admin/campaign-content/{tip.id}",
                                          {"scenario": tip.scenario, "text": new_text})
        seen["shown"] = await client.get(seen["saved"][1])
        # a new question: slot B left empty, the right answer in slot C (the second choice kept)
        seen["added"] = await client.post("/admin/campaign-content/new?kind=quiz", {
            "scenario": "romance", "question": "网友说要给您寄礼物，但要先交关税。您会？",
            "choice_0": "交钱领礼物", "choice_1": "", "choice_2": "不交，这是骗局", "choice_3": "",
            "answer": "2", "explanation": "海关不会让收礼人转账交税。"})
        seen["no_answer"] = await client.post("/admin/campaign-content/new?kind=quiz", {
            "scenario": "romance", "question": "网友借钱，您会？", "choice_0": "转", "choice_1": "不转",
            "choice_2": "", "choice_3": "", "answer": "2", "explanation": "多半是骗子。"})
        seen["deleted"] = await client.post("/admin/campaign-content/quiz_romance_6/delete", {})
        seen["missing"] = await client.get("/admin/campaign-content/quiz_nothing_1")
        seen["new_form"] = await client.get("/admin/campaign-content/new?kind=story&scenario=gambling")
        seen["publish"] = await client.post("/admin/publish", {"summary": "更新反诈小贴士"})
        await asyncio.wait_for(admin_app.ctx.admin.publisher._task, 60)  # the runtime-only job
        seen["job"] = admin_app.ctx.admin.publisher.job
        return seen

    seen = run(admin_app, steps)
    assert seen["form"][0] == 200 and tip.text in seen["form"][1] and 'id="preview"' in seen["form"][1]
    status, _, page = seen["too_long"]
    assert status == 422
    under_the_field = r'id="text".*?</textarea>\s*<p class="hint">.*?</p>\s*<p class="error">[^<]*'
    assert re.search(under_the_field + "最多 120 个字，现在有 200 个", page, re.S)
    assert seen["draft_after_refusal"] == before
    assert seen["saved"][:2] == (303, f"/admin/campaign-content/{tip.id}?saved=1")
    assert seen["shown"][0] == 200 and new_text in seen["shown"][1] and 'id="saved"' in seen["shown"][1]
    assert seen["added"][:2] == (303, "/admin/campaign-content/quiz_romance_6?saved=1")
    status, _, page = seen["no_answer"]
    assert status == 422 and "请选出正确答案" in page
    assert seen["deleted"][:2] == (303, "/admin/campaign-content?deleted=quiz_romance_6")
    assert seen["missing"][0] == 404
    assert seen["new_form"][0] == 200 and 'id="lines"' in seen["new_form"][1]
    assert seen["publish"][0] == 303
    job = seen["job"]
    assert job.state == "done", job.error
    live = yaml.safe_load((admin_app.ctx.admin.config.live_root / CAMPAIGN).read_text("utf-8"))
    assert next(t for t in live["tips"] if t["id"] == tip.id)["text"] == new_text
    assert "quiz_romance_6" not in {q["id"] for q in live["quiz"]}
    assert changed_lines(before, draft_text(admin_app)) == [f'-    text: "{tip.text}"', f'+    text: "{new_text}"']
    assert campaign.tips()[0].text == new_text  # the live file, as the bot's processes read it


def test_a_new_question_keeps_the_answer_it_was_given(admin_app: Sanic) -> None:
    async def steps(client: Client) -> tuple[int, str, str]:
        await client.login("li")
        return await client.post("/admin/campaign-content/new?kind=quiz", {
            "scenario": "gambling", "question": "有人说赌博网站有漏洞，带您稳赢。您会？",
            "choice_0": "跟着下注", "choice_1": "", "choice_2": "先投小钱", "choice_3": "不信，这是骗局",
            "answer": "3", "explanation": "网上赌博没有稳赢。"})

    status, location, _ = run(admin_app, steps)
    assert (status, location) == (303, "/admin/campaign-content/quiz_gambling_6?saved=1")
    added = next(q for q in yaml.safe_load(draft_text(admin_app))["quiz"] if q["id"] == "quiz_gambling_6")
    assert added["choices"] == ["跟着下注", "先投小钱", "不信，这是骗局"] and added["answer"] == 2


def test_officers_are_refused(admin_app: Sanic) -> None:
    tip = campaign.tips()[0]
    before = draft_text(admin_app)

    async def steps(client: Client) -> list[tuple[int, str]]:
        await client.login("wang")
        _, overview = await client.get("/admin/")
        answers = [await client.get("/admin/campaign-content"), await client.get(f"/admin/campaign-content/{tip.id}")]
        for path, form in ((f"/admin/campaign-content/{tip.id}", {"scenario": tip.scenario, "text": "改了"}),
                           (f"/admin/campaign-content/{tip.id}/delete", {}),
                           ("/admin/campaign-content/new?kind=tip", {"scenario": "romance", "text": "新的"})):
            status, _, page = await client.post(path, form)
            answers.append((status, page))
        return [(200, overview), *answers]

    overview, *refused = run(admin_app, steps)
    assert "宣传内容" not in overview[1]
    assert [status for status, _ in refused] == [403] * 5
    assert all("只有管理员" in page for _, page in refused)
    assert draft_text(admin_app) == before
