"""宣传内容: the tips, case stories and quiz questions of ``core/data/campaign.yml``
(``/admin/campaign-content…``, administrators only, like the other content pages).

One item is edited, added or deleted at a time, the way the scenario pages edit one scenario: the form
becomes the file's new text (round-trip YAML, so the diff is that item's lines), the whole draft is
validated with it (:func:`core.campaign.issues` through :mod:`bot.admin.validation`) and only a valid draft
is written; otherwise the page comes back with 422 and the problems next to their fields. The file is read
at run time, so putting it live needs no training (the publishing page's fast path).

The URL parameter is called ``name`` like the other content pages' (the admin's route tests fill it in).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.admin import content
from bot.admin.content import SCENARIOS
from bot.admin.routes.content_pages import status_of
from bot.admin.validation import CAMPAIGN, Problem
from bot.admin.web import Admin, admin_of, field_problems, general_problems
from core import campaign
from nlu.scenario_ids import SCENARIO_IDS

blueprint = Blueprint("admin_campaign_content")
LIST_URL = "/admin/campaign-content"
KINDS = {"tip": "tips", "story": "stories", "quiz": "quiz"}
"""The ``kind`` a form names, and the file's list it belongs to."""
QUOTED = ("text", "title", "question", "explanation")
CHOICE_SLOTS = campaign.CHOICES[1]


# --- the file: reading, and one item changed ------------------------------------------------------

def find(data: dict[str, Any], item_id: str) -> tuple[str, int] | None:
    """The list and index of the item with this id, or None."""
    for kind in campaign.KINDS:
        for index, entry in enumerate(data.get(kind) or ()):
            if isinstance(entry, dict) and entry.get("id") == item_id:
                return kind, index
    return None


def next_id(data: dict[str, Any], kind: str, scenario: str) -> str:
    """A new id after the highest of its kind and scenario (``tip_romance_5``): never one a campaign
    may still name, unless the last of them was deleted."""
    stem = f"{campaign.PREFIXES[kind]}{scenario}_"
    numbers = [int(match.group(1)) for entry in data.get(kind) or () if isinstance(entry, dict)
               for match in [re.fullmatch(re.escape(stem) + r"(\d+)", str(entry.get("id") or ""))] if match]
    return f"{stem}{max(numbers, default=0) + 1}"


def _values(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The item's fields as the file writes them: texts quoted, lists in block style, the answer a number."""
    values: dict[str, Any] = {"scenario": str(fields.get("scenario") or "").strip()}
    for key in campaign.FIELDS[kind]:
        if key in QUOTED:
            values[key] = DoubleQuotedScalarString(str(fields.get(key) or "").replace("\r\n", "\n").strip())
        elif key in ("lines", "choices"):
            values[key] = CommentedSeq(DoubleQuotedScalarString(v) for v in fields.get(key) or ())
        elif key == "answer":
            values[key] = fields.get("answer")
    return values


def edit_item(text: str, kind: str, item_id: str, fields: dict[str, Any]) -> str:
    """``text`` (the campaign file) with one item set to ``fields``: changed in place when the id exists,
    else added after the last item of its scenario in its list (the file stays grouped by scenario)."""
    data = content.load(CAMPAIGN, text)
    entries = data.setdefault(kind, CommentedSeq())
    values = _values(kind, fields)
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == item_id:
            for key, value in values.items():
                entry[key] = value
            return content.dump(CAMPAIGN, data)
    entry = CommentedMap(id=item_id)
    entry.update(values)
    same = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("scenario") == values["scenario"]]
    entries.insert(same[-1] + 1 if same else len(entries), entry)
    return content.dump(CAMPAIGN, data)


def delete_item(text: str, item_id: str) -> str:
    """``text`` without the item of this id (unchanged when there is none)."""
    data = content.load(CAMPAIGN, text)
    place = find(data, item_id)
    if place is not None:
        del data[place[0]][place[1]]
    return content.dump(CAMPAIGN, data)


# --- forms -------------------------------------------------------------------------------------------

def form_values(kind: str, entry: dict[str, Any]) -> dict[str, Any]:
    """What the edit form shows for an item (a quiz's choices in fixed slots A–D)."""
    values = {key: entry.get(key) or "" for key in ("scenario", "text", "title", "question", "explanation")}
    values["lines"] = "\n".join(str(line) for line in entry.get("lines") or ())
    choices = [str(choice) for choice in entry.get("choices") or ()]
    values["choices"] = (choices + [""] * CHOICE_SLOTS)[:max(CHOICE_SLOTS, len(choices))]
    answer = entry.get("answer")
    values["answer"] = answer if isinstance(answer, int) and not isinstance(answer, bool) else None
    return values


def read_form(kind: str, form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item's fields from a posted form, and the values to show it again with.

    Empty choice slots are dropped, so the answer given as a slot becomes the index among the choices
    kept; an answer on an empty slot is no answer (the check says to choose one)."""
    shown = {key: form.get(key, "") for key in ("scenario", "text", "title", "question", "explanation", "lines")}
    slots = [form.get(f"choice_{i}", "").strip() for i in range(CHOICE_SLOTS)]
    answer_slot = form.get("answer", "")
    chosen = int(answer_slot) if answer_slot.isdecimal() and int(answer_slot) < CHOICE_SLOTS else None
    shown["choices"], shown["answer"] = slots, chosen
    fields = dict(shown)
    fields["lines"] = content.lines_of(shown["lines"])
    fields["choices"] = [choice for choice in slots if choice]
    fields["answer"] = (sum(1 for choice in slots[:chosen] if choice)
                        if chosen is not None and slots[chosen] else None)
    return fields, shown


def draft_data(admin: Admin) -> dict[str, Any] | None:
    """The draft's campaign file parsed, or None when this content root has none."""
    if CAMPAIGN not in admin.draft.files():
        return None
    return yaml.safe_load(admin.draft.read(CAMPAIGN)) or {}


def scenario_names(admin: Admin) -> dict[str, str]:
    names = yaml.safe_load(admin.draft.read(SCENARIOS)) or {}
    return {sid: str((names.get(sid) or {}).get("name") or sid) for sid in SCENARIO_IDS}


def preview(kind: str, entry: dict[str, Any]) -> str:
    """The item as residents will read it, from the saved draft (rendered as the channels send it)."""
    if kind == "tips":
        return campaign.render_tip(campaign.Tip(str(entry.get("id")), str(entry.get("scenario")),
                                                str(entry.get("text") or "")))
    if kind == "stories":
        return campaign.render_story(campaign.Story(str(entry.get("id")), str(entry.get("scenario")),
                                                    str(entry.get("title") or ""),
                                                    tuple(str(line) for line in entry.get("lines") or ())))
    question = campaign.Question(str(entry.get("id")), str(entry.get("scenario")), str(entry.get("question") or ""),
                                 tuple(str(c) for c in entry.get("choices") or ()), int(entry.get("answer") or 0),
                                 str(entry.get("explanation") or ""))
    right = campaign.LETTERS[question.answer] if question.answer < len(campaign.LETTERS) else "?"
    return f"{campaign.render_question(question)}\n\n正确答案：{right}。{question.explanation}"


# --- pages ---------------------------------------------------------------------------------------------

@blueprint.get(LIST_URL)
async def campaign_list(request: Request) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_data(admin)
    if data is None:
        return admin.page(request, "missing.html", status=404, what=f"宣传内容文件 {CAMPAIGN}")
    per_scenario: dict[str, dict[str, list[dict[str, Any]]]] = {sid: {k: [] for k in campaign.KINDS}
                                                                 for sid in SCENARIO_IDS}
    for kind in campaign.KINDS:
        for entry in data.get(kind) or ():
            if isinstance(entry, dict) and entry.get("scenario") in per_scenario:
                per_scenario[str(entry["scenario"])][kind].append(entry)
    totals = {kind: len(data.get(kind) or ()) for kind in campaign.KINDS}
    return admin.page(request, "campaign_list.html", per_scenario=per_scenario, totals=totals,
                      names=scenario_names(admin), kind_names=campaign.KIND_NAMES, letters=campaign.LETTERS,
                      deleted=request.args.get("deleted", ""))


@blueprint.route(f"{LIST_URL}/new", methods=["GET", "POST"])
async def campaign_new(request: Request) -> HTTPResponse:
    """A new item of ``?kind=tip|story|quiz`` for ``?scenario=…``; its id is given when it is saved."""
    admin = admin_of(request)
    data = draft_data(admin)
    kind = KINDS.get(request.args.get("kind", ""))
    if data is None or kind is None:
        return admin.page(request, "missing.html", status=404, what="这种宣传内容")
    scenario = request.args.get("scenario", "")
    entry = {"scenario": scenario if scenario in SCENARIO_IDS else SCENARIO_IDS[0]}
    return await _edit(request, admin, data, kind, None, entry)


@blueprint.route(f"{LIST_URL}/<name>", methods=["GET", "POST"])
async def campaign_edit(request: Request, name: str) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_data(admin)
    place = find(data, name) if data is not None else None
    if place is None:
        return admin.page(request, "missing.html", status=404, what=f"宣传内容 {name}")
    kind, index = place
    return await _edit(request, admin, data, kind, name, dict(data[kind][index]))


@blueprint.post(f"{LIST_URL}/<name>/delete")
async def campaign_delete(request: Request, name: str) -> HTTPResponse:
    admin = admin_of(request)
    data = draft_data(admin)
    place = find(data, name) if data is not None else None
    if place is None:
        return admin.page(request, "missing.html", status=404, what=f"宣传内容 {name}")
    problems = await admin.save(CAMPAIGN, delete_item(admin.draft.read(CAMPAIGN), name))
    if not problems:
        return response.redirect(f"{LIST_URL}?deleted={quote(name)}", status=303)
    kind, index = place
    entry = dict(data[kind][index])
    return _page(request, admin, kind, name, form_values(kind, entry), problems, entry)


async def _edit(request: Request, admin: Admin, data: dict[str, Any], kind: str, item_id: str | None,
                entry: dict[str, Any]) -> HTTPResponse:
    """The edit form of one item (``item_id`` None: a new one), saved to the draft when valid."""
    values = form_values(kind, entry)
    problems: list[Problem] = []
    if request.method == "POST":
        fields, values = read_form(kind, request.form)
        new_id = item_id or next_id(data, kind, str(fields["scenario"]))
        problems = await admin.save(CAMPAIGN, edit_item(admin.draft.read(CAMPAIGN), kind, new_id, fields))
        if not problems:
            return response.redirect(f"{LIST_URL}/{quote(new_id)}?saved=1", status=303)
    return _page(request, admin, kind, item_id, values, problems, entry if item_id else None)


def _page(request: Request, admin: Admin, kind: str, item_id: str | None, values: dict[str, Any],
          problems: list[Problem], saved_entry: dict[str, Any] | None) -> HTTPResponse:
    fields = set(campaign.FIELDS[kind])
    subject = item_id or ""  # a new item's problems carry an id it has not got yet: shown by field alone
    return admin.page(request, "campaign_edit.html", status=status_of(problems), kind=kind, item_id=item_id,
                      kind_param=next(k for k, v in KINDS.items() if v == kind), values=values,
                      names=scenario_names(admin), kind_name=campaign.KIND_NAMES[kind], letters=campaign.LETTERS,
                      limits=_limits(kind), preview=preview(kind, saved_entry) if saved_entry else "",
                      errors=field_problems(problems, subject),
                      general=general_problems(problems, fields, subject))


def _limits(kind: str) -> dict[str, str]:
    """The hints under the fields: the same numbers :mod:`core.campaign` checks."""
    return {"tips": {"text": f"最多 {campaign.TIP_MAX} 个字：一种骗局、一个事实、一个做法。"},
            "stories": {"title": f"最多 {campaign.TITLE_MAX} 个字。",
                        "lines": f"每行一句，{campaign.STORY_LINES[0]}–{campaign.STORY_LINES[1]} 行，每行最多 "
                                 f"{campaign.STORY_LINE_MAX} 个字；最后一行写教训，并写上96110。"},
            "quiz": {"question": f"一个生活里的场景，最多 {campaign.QUESTION_MAX} 个字。",
                     "choices": f"{campaign.CHOICES[0]}–{campaign.CHOICES[1]} 个选项，每个最多 {campaign.CHOICE_MAX} "
                                "个字；错的选项写居民真会做的事。点选正确的那一个。",
                     "explanation": f"一句话说明为什么，最多 {campaign.EXPLANATION_MAX} 个字。"}}[kind]
