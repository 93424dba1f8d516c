"""Validation of a set of content files: Rasa's own checks plus this project's, messages in Chinese.

Rasa's checks are those of ``rasa data validate``, but stricter: a story that names an
unknown intent or response is an error here (Rasa only warns), because it would put a
broken bot live. The only warning let through is "response not used in any story": the
actions and channels send those responses themselves. ``make validate`` runs this too.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.admin.content import (
    DOMAIN,
    ENGLISH,
    MOMENTS,
    MONEY_SENT,
    REGIONS,
    REPORT_LINES,
    RUNTIME_PREFIX,
    SAFEGUARDS,
    SCENARIOS,
    Files,
    materialise,
    remove_tree,
)
from core import campaign
from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

CAMPAIGN = f"{RUNTIME_PREFIX}{campaign.FILE}"
CONFIG = Path(__file__).resolve().parents[2] / "config.yml"
PHONE = re.compile(r"^\+?\d[\d\- ]{1,18}\d$")
ALLOWED_WARNINGS = (re.compile(r"The utterance '.+' is not used in any story or rule"),
                    re.compile(r"Slot auto-fill has been removed"))  # said of every domain in 3.x


@dataclass(frozen=True)
class Problem:
    """One reason a version cannot go live: in which file, next to which form field, and why."""

    path: str
    message: str
    field: str = ""
    subject: str = ""  # the response, scenario or region the field belongs to


# Rasa's messages, in the words an administrator reads.
TRANSLATIONS = (
    (re.compile(r"The intent '(.+?)' is used in your stories, but it is not listed in the domain"),
     "stories", "故事或规则里用了意图「{0}」，但 domain.yml 里没有这个意图。"),
    (re.compile(r"Found intent '(.+?)' in stories which is not part of the domain"),
     "stories", "故事或规则里用了意图「{0}」，但 domain.yml 里没有这个意图。"),
    (re.compile(r"The action '(.+?)' is used in the stories, but is not a valid utterance action"),
     "stories", "故事或规则里用了回复「{0}」，但没有这条回复。"),
    (re.compile(r"The action '(.+?)' is used in the '(.+?)' block, but it is not listed in the domain"),
     "stories", "「{1}」里用了动作「{0}」，但它不存在。"),
    (re.compile(r"The intent '(.+?)' is listed in the domain file, but is not found in the NLU training data"),
     "nlu", "意图「{0}」没有任何例句。"),
    (re.compile(r"The example '(.+?)' was found labeled with multiple different intents"),
     "nlu", "例句「{0}」同时出现在好几个意图下，请只保留一处。"),
    (re.compile(r"Story structure conflict"), "stories", "故事之间互相矛盾：同样的对话走到了不同的动作。"),
)


def translate(message: str) -> Problem:
    for pattern, path, chinese in TRANSLATIONS:
        found = pattern.search(message)
        if found:
            return Problem(path, chinese.format(*found.groups()) + _detail(message, pattern))
    return Problem("", f"Rasa 校验没有通过：{message.strip()[:600]}")


def _detail(message: str, pattern: re.Pattern[str]) -> str:
    return f"\n{message.strip()[:600]}" if pattern.pattern.startswith("Story") else ""


def validate_files(files: Files) -> list[Problem]:
    """Every problem of this version of the files; empty means it may go live."""
    problems = own_problems(files)
    root = materialise(files)
    try:
        problems.extend(rasa_problems(root))
    finally:
        remove_tree(root)
    return problems


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def rasa_problems(root: Path) -> list[Problem]:
    """The checks of ``rasa data validate`` on the files under ``root``, warnings as errors."""
    from rasa.shared.exceptions import RasaException
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    problems: list[Problem] = []
    collect = _Collect()
    rasa_logger = logging.getLogger("rasa")
    rasa_logger.addHandler(collect)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            importer = TrainingDataImporter.load_from_config(
                str(CONFIG), str(root / DOMAIN), [str(root / "nlu" / "data"), str(root / "stories")])
            if importer.get_domain().is_empty():
                return [Problem(DOMAIN, "domain.yml 是空的，或者格式不对。")]
            validator = Validator.from_importer(importer)
            validator.verify_domain_validity()
            validator.verify_actions_in_stories_rules()
            validator.verify_forms_in_stories_rules()
            validator.verify_form_slots()
            validator.verify_slot_mappings()
            validator.verify_nlu(ignore_warnings=False)
            validator.verify_story_structure(ignore_warnings=False)
    except (RasaException, yaml.YAMLError, ValueError, KeyError, TypeError) as error:
        return [_load_problem(root, str(error))]
    finally:
        rasa_logger.removeHandler(collect)
    messages = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)
                and "deprecated" not in str(w.message)] + collect.messages
    for message in messages:
        if not any(allowed.search(message) for allowed in ALLOWED_WARNINGS):
            problem = translate(message.replace(str(root) + "/", ""))
            if problem not in problems:
                problems.append(problem)
    return problems


def _load_problem(root: Path, message: str) -> Problem:
    """A file Rasa could not read at all: YAML syntax or schema, with the line it names."""
    path = ""
    for candidate in re.findall(r"'([^']+\.yml)'|\"([^\"]+\.yml)\"", message):
        name = next(filter(None, candidate))
        if name.startswith(str(root)):
            path = Path(name).relative_to(root).as_posix()
            break
    text = message.replace(str(root) + "/", "").replace("You can use https://yamlchecker.com/ to validate "
                                                         "the YAML syntax of your file.", "").strip()
    line = re.search(r"line (\d+)", text)
    where = f"（第 {line.group(1)} 行附近）" if line else ""
    return Problem(path, f"文件 {path or ''} 的格式有错误{where}，Rasa 读不了：\n{text[:800]}")


# --- the project's own checks -------------------------------------------------------------

def own_problems(files: Files) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for path, text in files.items():
        try:
            parsed[path] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"（第 {mark.line + 1} 行）" if mark else ""
            problems.append(Problem(path, f"YAML 格式有错误{where}：{getattr(error, 'problem', error)}", "yaml"))
    if problems:
        return problems
    domain = parsed.get(DOMAIN) or {}
    problems += _response_problems(domain)
    lines = parsed.get(REPORT_LINES) or {}
    problems += _scenario_problems(parsed.get(SCENARIOS) or {}, set(lines.get("situations") or {}))
    problems += _report_line_problems(lines)
    problems += _region_problems(parsed.get(REGIONS) or {})
    problems += _money_sent_problems(parsed.get(MONEY_SENT) or {})
    problems += _pattern_problems(MOMENTS, parsed.get(MOMENTS))
    problems += _pattern_problems(ENGLISH, parsed.get(ENGLISH))
    problems += _safeguard_problems(parsed.get(SAFEGUARDS) or {})
    if CAMPAIGN in parsed:
        problems += _campaign_problems(parsed[CAMPAIGN], parsed.get(REPORT_LINES) or None)
    for path, data in parsed.items():
        if path.startswith("nlu/") and isinstance(data, dict):
            problems += _example_problems(path, data)
    return problems


def phone_number(value: Any) -> bool:
    return isinstance(value, (str, int)) and bool(PHONE.match(str(value).strip()))


def _intent_names(domain: dict[str, Any]) -> set[str]:
    return {next(iter(i)) if isinstance(i, dict) else str(i) for i in domain.get("intents") or ()}


def _response_problems(domain: dict[str, Any]) -> list[Problem]:
    problems = []
    intents = _intent_names(domain)
    for name, variations in (domain.get("responses") or {}).items():
        if not variations:
            problems.append(Problem(DOMAIN, f"回复「{name}」不能是空的，至少要有一句话。", "text_0", name))
            continue
        for index, variation in enumerate(variations):
            variation = variation if isinstance(variation, dict) else {}
            if not str(variation.get("text") or "").strip() and not (variation.get("image") or variation.get("custom")):
                problems.append(Problem(DOMAIN, "这句话是空的，请写上内容。", f"text_{index}", name))
            for button in variation.get("buttons") or ():
                title, payload = str(button.get("title") or "").strip(), str(button.get("payload") or "").strip()
                if not title or not payload:
                    problems.append(Problem(DOMAIN, "每个按钮都要有文字和内容，写成「文字 | /意图」。",
                                            f"buttons_{index}", name))
                elif payload.startswith("/") and re.split(r"[{@]", payload[1:])[0] not in intents:
                    problems.append(Problem(DOMAIN, f"按钮「{title}」的意图「{payload}」不存在。",
                                            f"buttons_{index}", name))
    fallback_variations = (domain.get("responses") or {}).get("utter_hotline_fallback") or ()
    fallback = " ".join(str(v.get("text", "")) for v in fallback_variations if isinstance(v, dict))
    if "96110" not in fallback or "110" not in fallback.replace("96110", ""):
        problems.append(Problem(DOMAIN, "兜底回复必须写上96110和110：机器人答不上来时，居民要知道打哪个电话。",
                                "text_0", "utter_hotline_fallback"))
    return problems


def _scenario_problems(scenarios: dict[str, Any], situations: set[str]) -> list[Problem]:
    problems = []
    known = set(SCENARIO_IDS) | {NONE_SCENARIO}
    for sid, spec in scenarios.items():
        if sid not in known:
            allowed = "、".join(SCENARIO_IDS)
            problems.append(Problem(SCENARIOS, f"没有「{sid}」这个场景编号。场景编号只能是：{allowed}、none。",
                                    "id", str(sid)))
            continue
        spec = spec if isinstance(spec, dict) else {}
        if not str(spec.get("name") or "").strip():
            problems.append(Problem(SCENARIOS, "请写上这个场景的中文名称。", "name", sid))
        if situations and spec.get("situation") not in situations:
            problems.append(Problem(SCENARIOS, f"「{spec.get('situation')}」不是已有的情形，请从列表里选。",
                                    "situation", sid))
        if sid != NONE_SCENARIO and not str(spec.get("truth") or "").strip():
            problems.append(Problem(SCENARIOS, "请写上一句戳穿这个骗局的话。", "truth", sid))
        advice = spec.get("advice") or []
        if sid != NONE_SCENARIO and (not advice or not all(str(a).strip() for a in advice)):
            problems.append(Problem(SCENARIOS, "至少写一条建议，每行一条，不要有空行。", "advice", sid))
    for sid in sorted(known - set(scenarios)):
        problems.append(Problem(SCENARIOS, f"场景「{sid}」的说明不见了：每个场景都要有。", "id", sid))
    return problems


def _report_line_problems(data: dict[str, Any]) -> list[Problem]:
    problems = []
    for key, line in (data.get("lines") or {}).items():
        number = str((line or {}).get("number") or "").strip()
        if not number:
            problems.append(Problem(REPORT_LINES, "号码不能是空的。", f"line_{key}_number", key))
        elif any(ch.isdigit() for ch in number) and not phone_number(number):
            problems.append(Problem(REPORT_LINES, f"「{number}」不是一个电话号码：只能有数字和“-”。",
                                    f"line_{key}_number", key))
    for index, (bank, number) in enumerate((data.get("banks") or {}).items()):
        if not phone_number(number):
            problems.append(Problem(REPORT_LINES, f"{bank}的号码「{number}」不是一个电话号码：只能有数字和“-”。",
                                    f"bank_{index}", str(bank)))
    return problems


def _money_sent_problems(data: dict[str, Any]) -> list[Problem]:
    """Every pattern must compile: a broken one would silently stop the golden-hour answer for its words."""
    patterns = data.get("patterns") or []
    if not patterns:
        return [Problem(MONEY_SENT, "至少要有一条说明“钱已经转出去了”的说法。", "patterns")]
    return (_regex_problems(MONEY_SENT, patterns, "pattern")
            + _regex_problems(MONEY_SENT, data.get("confirmations") or [], "confirmation", "「确认被骗的说法」")
            + _regex_problems(MONEY_SENT, data.get("incoming") or [], "incoming", "「钱是转给居民的说法」")
            + _regex_problems(MONEY_SENT, data.get("sender") or [], "sender", "「居民自己转出钱的说法」")
            + _regex_problems(MONEY_SENT, data.get("others") or [], "others", "「新闻里别人被骗的说法」")
            + _regex_problems(MONEY_SENT, data.get("market") or [], "market", "「自己账户里投资亏损的说法」"))


def _regex_problems(path: str, patterns: list[Any], field: str, shown: str = "") -> list[Problem]:
    """A problem for each entry of ``patterns`` that is not a regular expression, next to ``field_<i>``."""
    problems = []
    for index, pattern in enumerate(patterns):
        if isinstance(pattern, (dict, list)):
            continue  # a nested block, checked on its own
        try:
            re.compile(str(pattern))
        except re.error as error:
            problems.append(Problem(path, f"{shown}第 {index + 1} 条不是正确的正则表达式：{error}",
                                    f"{field}_{index}", str(pattern)))
    return problems


def _pattern_problems(path: str, data: Any, where: str = "") -> list[Problem]:
    """Every regular expression anywhere in a moments-like file must compile: a broken one
    would silently stop the bot from hearing what it was written for."""
    problems: list[Problem] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("words", "replies", "say", "name", "explains", "advice_needs", "after"):
                continue
            problems += _pattern_problems(path, value, f"{where}.{key}" if where else str(key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, (dict, list)):
                problems += _pattern_problems(path, item, f"{where}[{index}]")
        problems += _regex_problems(path, data, where, f"「{where}」")
    return problems


def _safeguard_problems(data: dict[str, Any]) -> list[Problem]:
    """A safeguard needs patterns and an answer: residents are told it is genuine in its words."""
    problems = _pattern_problems(SAFEGUARDS, data)
    for key, spec in data.items():
        if not isinstance(spec, dict) or not spec.get("patterns"):
            problems.append(Problem(SAFEGUARDS, f"「{key}」至少要有一条识别它的说法（patterns）。", "patterns",
                                    str(key)))
        elif not str(spec.get("say") or "").strip():
            problems.append(Problem(SAFEGUARDS, f"「{key}」要写上回复居民的话（say）。", "say", str(key)))
    return problems


def _campaign_problems(data: Any, lines: dict[str, Any] | None) -> list[Problem]:
    """宣传 content, checked by :func:`core.campaign.issues` against this version's report lines (a number
    added there may be named in a tip); each problem next to its item's field on the 宣传内容 edit page."""
    return [Problem(CAMPAIGN, issue.message, issue.field, issue.id) for issue in campaign.issues(data, lines)]


def _region_problems(data: dict[str, Any]) -> list[Problem]:
    problems = []
    if "national" not in data:
        problems.append(Problem(REGIONS, "不能删除「national（全国）」。", "region_0", "national"))
    for index, (key, region) in enumerate(data.items()):
        if not re.fullmatch(r"[a-z0-9_]+", str(key)):
            problems.append(Problem(REGIONS, f"地区代号「{key}」只能用小写字母、数字和下划线。",
                                    f"region_{index}", str(key)))
        for line in (region or {}).get("lines") or ():
            line = line or {}
            if not phone_number(line.get("number")):
                problems.append(Problem(REGIONS, f"「{line.get('name', '')}」的号码「{line.get('number', '')}」"
                                        "不是一个电话号码：只能有数字和“-”。每行写成「名称 | 号码 | 用途」。",
                                        f"region_{index}", str(key)))
            elif not str(line.get("name") or "").strip():
                problems.append(Problem(REGIONS, "每个号码都要写上名称。", f"region_{index}", str(key)))
    return problems


def _example_problems(path: str, data: dict[str, Any]) -> list[Problem]:
    problems = []
    known = set(SCENARIO_IDS) | {NONE_SCENARIO}
    for index, block in enumerate(data.get("nlu") or ()):
        if not isinstance(block, dict) or "intent" not in block:
            continue
        scenario = (block.get("metadata") or {}).get("scenario")
        if scenario is not None and scenario not in known:
            problems.append(Problem(path, f"没有「{scenario}」这个场景编号。", f"block_{index}", str(index)))
        examples = [line for line in str(block.get("examples") or "").splitlines()
                    if line.strip().removeprefix("-").strip()]
        if not examples:
            problems.append(Problem(path, "至少要有一条例句。", f"block_{index}", str(index)))
    return problems
