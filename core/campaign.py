"""宣传 content: short tips, case stories and quiz questions (``core/data/campaign.yml``).

Administrators edit the file in the web admin like the rest of ``core/data``; campaigns send its
items to groups and the quiz asks its questions in chat. It is read through
:func:`core.knowledge.fresh_yaml`, so the admin's candidate copy and an edit put live are picked up
without a restart.

:func:`problems` is the one check of the file: the admin refuses an edit that breaks it, ``make
validate`` runs it too, and the shipped file is held to it by ``tests/test_campaign_content.py``.
Its messages are in Chinese because administrators read them next to the field they typed in.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.knowledge import data_dir, fresh_yaml, report_lines
from nlu.entities import is_official_number
from nlu.scenario_ids import SCENARIO_IDS

FILE = "campaign.yml"
LETTERS = "ABCD"
HOTLINE = "96110"

TIP_MAX = 120
TITLE_MAX = 30
STORY_LINE_MAX = 60
STORY_LINES = (3, 5)
QUESTION_MAX = 120
CHOICE_MAX = 40
CHOICES = (2, 4)
EXPLANATION_MAX = 80

KINDS = ("tips", "stories", "quiz")
"""The file's three lists, in its order."""
PREFIXES = {"tips": "tip_", "stories": "story_", "quiz": "quiz_"}
"""An id says what it is: a campaign that names ``quiz_…`` can never be handed a tip."""
KIND_NAMES = {"tips": "小贴士", "stories": "案例故事", "quiz": "答题"}
FIELDS = {"tips": ("id", "scenario", "text"),
          "stories": ("id", "scenario", "title", "lines"),
          "quiz": ("id", "scenario", "question", "choices", "answer", "explanation")}
FIELD_NAMES = {"id": "编号", "scenario": "场景", "text": "内容", "title": "标题", "lines": "故事内容",
               "question": "题目", "choices": "选项", "answer": "正确答案", "explanation": "解析"}
MIN_PER_SCENARIO = {"tips": 1, "quiz": 1}
"""What no edit may take away: the daily tip picks the scenario residents asked about most, and the quiz
asks per scenario, so every scenario keeps at least one tip and one question."""

ID_SHAPE = re.compile(r"[a-z0-9_]+")
# A run of digits that could be dialled (with dashes or spaces inside, as numbers are written), and what
# may follow or precede one that is not a number to call: an amount, a percentage, a date, a card's tail.
_DIGIT_RUN = re.compile(r"(?<![\d.])\d(?:[\d\- ]*\d)?(?![\d])")
_NOT_A_LINE_AFTER = re.compile(r"\s*(?:[元块万千百亿%倍年月日号天个次人分秒岁条张份单位折克斤米层期笔周]"
                               r"|小时|公里|\.\d)")
_NOT_A_LINE_BEFORE = ("¥", "$", "尾号", "第")
_AREA_CODE_96110 = re.compile(r"0\d{2,3}96110")


@dataclass(frozen=True)
class Tip:
    """One scam, one fact, one action, in at most 120 characters: sent to groups as it is."""

    id: str
    scenario: str
    text: str


@dataclass(frozen=True)
class Story:
    """A real-style case in 3–5 short lines; the last is the lesson, with 96110."""

    id: str
    scenario: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A situation with 2–4 choices; ``answer`` is the index of the right one."""

    id: str
    scenario: str
    question: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


@dataclass(frozen=True)
class Issue:
    """One problem of the file, placed: which list, which item (index and id) and which field.

    The admin shows it next to that field; :func:`problems` gives only the messages."""

    kind: str
    index: int
    id: str
    field: str
    message: str


# --- reading ---------------------------------------------------------------------------------------

def data() -> dict[str, Any]:
    """The file as parsed (live, or the candidate's copy); empty when a content root has none."""
    path = data_dir() / FILE
    return (fresh_yaml(path) or {}) if path.exists() else {}


def _items(kind: str) -> list[dict[str, Any]]:
    return [item for item in data().get(kind) or () if isinstance(item, dict)]


def tips() -> list[Tip]:
    return [Tip(str(t["id"]), str(t["scenario"]), str(t["text"]).strip()) for t in _items("tips")]


def stories() -> list[Story]:
    return [Story(str(s["id"]), str(s["scenario"]), str(s["title"]).strip(),
                  tuple(str(line).strip() for line in s.get("lines") or ())) for s in _items("stories")]


def questions() -> list[Question]:
    return [Question(str(q["id"]), str(q["scenario"]), str(q["question"]).strip(),
                     tuple(str(c).strip() for c in q.get("choices") or ()), int(q["answer"]),
                     str(q.get("explanation") or "").strip()) for q in _items("quiz")]


def by_id() -> dict[str, Tip | Story | Question]:
    """Every item by its id (ids are unique across the file), for campaigns that name their content."""
    return {item.id: item for item in [*tips(), *stories(), *questions()]}


# --- what is sent ----------------------------------------------------------------------------------

def render_tip(tip: Tip) -> str:
    """The tip as a group reads it."""
    return f"【反诈小贴士】{tip.text}"


def render_story(story: Story) -> str:
    """The title, then one line per line of the story (the last names 96110)."""
    return "\n".join([f"【反诈故事】{story.title}", *story.lines])


def render_question(question: Question) -> str:
    """The situation, then ``A. …`` lines: the text channels' form, answered with the letter."""
    return "\n".join([question.question, *(f"{LETTERS[i]}. {choice}" for i, choice in enumerate(question.choices))])


# --- validation ------------------------------------------------------------------------------------

def problems(data: Any, lines: Mapping[str, Any] | None = None) -> list[str]:
    """What is wrong with the parsed file, in Chinese; empty when it may go live.

    ``lines`` is the report lines' data (``report_lines.yml``) whose numbers may be named; the live
    one when not given (the admin passes its draft's, so a number added there may be used here)."""
    return [issue.message for issue in issues(data, lines)]


def issues(data: Any, lines: Mapping[str, Any] | None = None) -> list[Issue]:
    """Every problem of the parsed file, each placed at its item and field."""
    if not isinstance(data, dict):
        return [Issue("", -1, "", "", "文件的最外层应该是 tips、stories、quiz 三个列表。")]
    official = official_numbers(report_lines() if lines is None else lines)
    found: list[Issue] = []
    seen: Counter[str] = Counter()
    for kind in KINDS:
        entries = data.get(kind)
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            found.append(Issue(kind, -1, "", "", f"「{kind}」应该是一个列表（每一条以“- ”开头）。"))
            continue
        for index, entry in enumerate(entries):
            found += _entry_issues(kind, index, entry, official, seen)
    found += _coverage_issues(data)
    return found


def official_numbers(lines: Mapping[str, Any]) -> frozenset[str]:
    """The numbers content may name: the report lines, the banks' and platforms' lines, the official list."""
    numbers = {str((line or {}).get("number") or "") for line in (lines.get("lines") or {}).values()}
    numbers |= {str(number) for number in (lines.get("banks") or {}).values()}
    numbers |= {str(number) for number in (lines.get("official_numbers") or {})}
    return frozenset(n for n in numbers if n.isdigit())


def stray_numbers(text: str, official: Iterable[str]) -> list[str]:
    """Numbers in ``text`` a resident might dial that are not official lines.

    Residents call what a tip names, so one wrong digit sends them to a stranger: only the report
    lines' numbers (and 96110 after an area code, as the warning calls show) are allowed. Amounts,
    percentages, dates and a card's last digits are not numbers to call and are let through."""
    allowed = frozenset(official)
    view = unicodedata.normalize("NFKC", text)
    stray = []
    for match in _DIGIT_RUN.finditer(view):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) < 3 or _NOT_A_LINE_AFTER.match(view, match.end()):
            continue
        if view[:match.start()].rstrip().endswith(_NOT_A_LINE_BEFORE):
            continue
        if not any(all(_official(group, allowed) for group in run.split()) for run in (digits, match.group())):
            stray.append(match.group().strip())
    return stray


def _official(number: str, allowed: frozenset[str]) -> bool:
    """A report line's number, or 96110 after an area code (0571-96110), as :func:`is_official_number` reads it."""
    digits = re.sub(r"\D", "", number)
    return (digits in allowed or _AREA_CODE_96110.fullmatch(digits) is not None) and is_official_number(digits)


def _entry_issues(kind: str, index: int, entry: Any, official: frozenset[str], seen: Counter[str]) -> list[Issue]:
    where = f"{KIND_NAMES[kind]}第 {index + 1} 条"
    if not isinstance(entry, dict):
        return [Issue(kind, index, "", "", f"{where}格式不对：每一条都要有{'、'.join(FIELDS[kind])}。")]
    item_id = str(entry.get("id") or "").strip()
    where = f"{KIND_NAMES[kind]}「{item_id}」" if item_id else where

    def issue(field: str, message: str) -> Issue:
        return Issue(kind, index, item_id, field, f"{where}：{message}")

    found = [issue(field, f"请填写{FIELD_NAMES[field]}。") for field in FIELDS[kind]
             if field != "answer" and _empty(entry.get(field))]
    if kind == "quiz" and entry.get("answer") in (None, ""):
        found.append(issue("answer", "请选出正确答案。"))
    if item_id:
        seen[item_id] += 1
        if seen[item_id] == 2:
            found.append(issue("id", "编号重复了：每一条的编号都不能和别的重复。"))
        if not ID_SHAPE.fullmatch(item_id) or not item_id.startswith(PREFIXES[kind]):
            found.append(issue("id", f"编号只能用小写字母、数字和下划线，并以「{PREFIXES[kind]}」开头。"))
    scenario = entry.get("scenario")
    if not _empty(scenario) and scenario not in SCENARIO_IDS:
        found.append(issue("scenario", f"没有「{scenario}」这个场景编号，请从列表里选。"))
    found += _text_issues(kind, entry, official, issue)
    return found


def _text_issues(kind: str, entry: dict[str, Any], official: frozenset[str], issue: Any) -> list[Issue]:
    """Lengths, the story's 96110, the choices and answer, and numbers that are not official lines."""
    found: list[Issue] = []

    def limit(field: str, value: Any, most: int, what: str = "") -> None:
        text = str(value or "").strip()
        if len(text) > most:
            found.append(issue(field, f"{what}最多 {most} 个字，现在有 {len(text)} 个。"))
        for number in stray_numbers(text, official):
            found.append(issue(field, f"「{number}」不是官方电话号码：只能写举报电话页上的号码（110、96110、"
                                      "12321、银行官方客服等）；如果是金额，请在后面写上“元”。"))

    if kind == "tips":
        limit("text", entry.get("text"), TIP_MAX)
    elif kind == "stories":
        limit("title", entry.get("title"), TITLE_MAX, "标题")
        lines = _list(entry.get("lines"))
        if lines is None:
            found.append(issue("lines", "故事内容要写成几行。"))
            return found
        if lines and not STORY_LINES[0] <= len(lines) <= STORY_LINES[1]:
            found.append(issue("lines", f"故事要写 {STORY_LINES[0]}–{STORY_LINES[1]} 行，现在有 {len(lines)} 行。"))
        for number, line in enumerate(lines, 1):
            limit("lines", line, STORY_LINE_MAX, f"第 {number} 行")
        if lines and HOTLINE not in lines[-1]:
            found.append(issue("lines", "最后一行要写出教训，并告诉居民拿不准就打96110。"))
    else:
        limit("question", entry.get("question"), QUESTION_MAX, "题目")
        limit("explanation", entry.get("explanation"), EXPLANATION_MAX, "解析")
        choices = _list(entry.get("choices"))
        if choices is None:
            found.append(issue("choices", "选项要写成一个列表。"))
            return found
        if choices and not CHOICES[0] <= len(choices) <= CHOICES[1]:
            found.append(issue("choices", f"要有 {CHOICES[0]}–{CHOICES[1]} 个选项，现在有 {len(choices)} 个。"))
        for number, choice in enumerate(choices):
            limit("choices", choice, CHOICE_MAX, f"选项{LETTERS[number] if number < len(LETTERS) else number + 1}")
        if len(set(choices)) < len(choices):
            found.append(issue("choices", "有两个选项一模一样。"))
        answer = entry.get("answer")
        if answer not in (None, "") and (isinstance(answer, bool) or not isinstance(answer, int)
                                         or not 0 <= answer < len(choices)):
            found.append(issue("answer", "正确答案要是其中一个选项。"))
    return found


def _coverage_issues(data: dict[str, Any]) -> list[Issue]:
    found = []
    for kind, least in MIN_PER_SCENARIO.items():
        entries = data.get(kind) if isinstance(data.get(kind), list) else []
        counts = Counter(entry.get("scenario") for entry in entries if isinstance(entry, dict))
        for scenario in SCENARIO_IDS:
            if counts[scenario] < least:
                found.append(Issue(kind, -1, "", "", f"场景「{scenario}」至少要留 {least} 条"
                                                     f"{KIND_NAMES[kind]}：每日提醒和答题会按场景挑选。"))
    return found


def _empty(value: Any) -> bool:
    """Nothing written: missing, blank text, or a list of blank lines."""
    if isinstance(value, (list, tuple)):
        return not any(str(v).strip() for v in value)
    return value is None or not str(value).strip()


def _list(value: Any) -> list[str] | None:
    """A list field's non-empty entries as text; None when it is not a list at all."""
    if value is None:
        return []
    if not isinstance(value, list):
        return None
    return [str(v).strip() for v in value if str(v).strip()]
