"""The files administrators edit, the shared draft of them, and clean YAML rewriting.

The YAML files in the repository are the single source of truth. The admin keeps one
draft copy of them (``<admin dir>/draft``); edits are validated and written there, tried
against a candidate bot, and put live by copying the draft over the live files. Edits go
through ruamel's round-trip mode, so a change keeps the files' order and comments and
reads as a small diff.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

# Relative to a content root; `core/data` is read at run time by the action server,
# everything else is training data.
CONTENT_PATTERNS = ("domain.yml", "core/data/*.yml", "nlu/data/**/*.yml", "stories/*.yml")
RUNTIME_PREFIX = "core/data/"
DOMAIN = "domain.yml"
SCENARIOS = "core/data/scenarios.yml"
REPORT_LINES = "core/data/report_lines.yml"
REGIONS = "core/data/regions.yml"
MONEY_SENT = "core/data/money_sent.yml"
MOMENTS = "core/data/moments.yml"
SAFEGUARDS = "core/data/safeguards.yml"
ENGLISH = "core/data/english.yml"

Files = dict[str, str]


def read_files(root: Path) -> Files:
    """Every content file under ``root``, by path relative to it."""
    found: Files = {}
    for pattern in CONTENT_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return found


def write_files(root: Path, files: Files, remove_others: bool = True) -> None:
    """Write ``files`` under ``root``: only those whose text changed, each atomically.

    An unchanged file is not touched at all (its modification time is what ``make`` compares
    with the model's), and a rewritten one keeps its mode.
    """
    for relative, text in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        write_atomically(target, text)
    if remove_others:
        for relative in set(read_files(root)) - set(files):
            (root / relative).unlink()


def write_atomically(target: Path, text: str) -> None:
    """Replace ``target`` so that a reader never sees half a file.

    The new file keeps the old one's mode; a new file gets the mode the umask gives any new
    file (``mkstemp``'s 0600 would hide it from the bot's other processes and from a deploy user).
    """
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def changed(old: Files, new: Files) -> list[str]:
    return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))


def unified_diff(old: Files, new: Files) -> str:
    """A readable diff of every changed file, as git would show it."""
    parts = []
    for path in changed(old, new):
        parts.extend(difflib.unified_diff(
            old.get(path, "").splitlines(keepends=True), new.get(path, "").splitlines(keepends=True),
            fromfile=f"a/{path}", tofile=f"b/{path}"))
    return "".join(line if line.endswith("\n") else line + "\n" for line in parts)


def training_key(files: Files) -> str:
    """What a trained model depends on: NLU data, stories and the domain without response texts.

    Responses and the action server's data files are read at run time (NLG endpoint and
    action server), so two versions with the same key can share one trained model.
    """
    digest = hashlib.sha256()
    for path in sorted(files):
        if path.startswith(RUNTIME_PREFIX):
            continue
        text = files[path]
        if path == DOMAIN:
            domain = yaml.safe_load(text) or {}
            responses = domain.pop("responses", None) or {}
            text = json.dumps({**domain, "response_names": sorted(responses)}, sort_keys=True, ensure_ascii=False)
        digest.update(path.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:16]


def _yaml_for(path: str) -> YAML:
    """Round-trip YAML in this repository's style (the NLU files indent lists differently)."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.allow_unicode = True
    if path.startswith("nlu/"):
        rt.indent(mapping=2, sequence=2, offset=0)
    else:
        rt.indent(mapping=2, sequence=4, offset=2)
    rt.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    return rt


def load(path: str, text: str) -> Any:
    return _yaml_for(path).load(text)


def dump(path: str, data: Any) -> str:
    out = io.StringIO()
    _yaml_for(path).dump(data, out)
    return out.getvalue()


def fingerprint(files: Files) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Draft:
    """The shared draft: a copy of the live content files that edits go to first.

    It remembers which live version it started from (``.base``), so that a draft made
    before someone else put a version live (or before a ``git pull``) can never overwrite
    that version: an untouched draft follows the live files, an edited one is refused.
    """

    def __init__(self, live_root: Path, draft_root: Path) -> None:
        self.live_root = live_root
        self.root = draft_root
        self._base = draft_root / ".base"
        if not (draft_root / DOMAIN).exists() or not self._base.exists():
            self.reset()
        self.follow_live()

    def reset(self, files: Files | None = None) -> None:
        """Start again from the live files (or from ``files``, an earlier version)."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_files(self.root, files if files is not None else self.live_files())
        self._base.write_text(fingerprint(self.live_files()), encoding="utf-8")

    def edited(self) -> bool:
        """The draft differs from the live version it started from."""
        return fingerprint(self.files()) != self._base.read_text(encoding="utf-8")

    def live_moved(self) -> bool:
        """The live files changed since the draft started."""
        return fingerprint(self.live_files()) != self._base.read_text(encoding="utf-8")

    def follow_live(self) -> tuple[bool, bool]:
        """An untouched draft takes the live files as they are now; returns (edited, live moved)."""
        base = self._base.read_text(encoding="utf-8")
        edited = fingerprint(self.files()) != base
        moved = fingerprint(self.live_files()) != base
        if moved and not edited:
            self.reset()
            return False, False
        return edited, moved

    def files(self) -> Files:
        return read_files(self.root)

    def live_files(self) -> Files:
        return read_files(self.live_root)

    def read(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8")

    def data(self, path: str) -> Any:
        """The file, parsed for round-trip editing."""
        return load(path, self.read(path))

    def with_changes(self, changes: Files) -> Files:
        return {**self.files(), **changes}

    def save(self, changes: Files) -> None:
        write_files(self.root, self.with_changes(changes))


def materialise(files: Files) -> Path:
    """A temporary directory holding ``files`` (for validation or training); caller removes it."""
    root = Path(tempfile.mkdtemp(prefix="fraudbot-content-"))
    write_files(root, files, remove_others=False)
    return root


def remove_tree(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


# --- edits: form values in, new file text out -------------------------------------------

def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def parse_buttons(text: str) -> list[dict[str, str]]:
    """``标题 | /payload`` per line; a line without ``|`` uses its title as the payload."""
    buttons = []
    for line in lines_of(text):
        title, _, payload = line.partition("|")
        buttons.append({"title": title.strip(), "payload": (payload or title).strip()})
    return buttons


def format_buttons(buttons: list[dict[str, Any]] | None) -> str:
    return "\n".join(f"{b.get('title', '')} | {b.get('payload', '')}" for b in buttons or ())


def edit_response(domain_text: str, name: str, variations: list[tuple[str, str]]) -> str:
    """Set response ``name`` to ``variations`` (text, buttons text); empty variations are dropped.

    Other keys of an existing variation (``channel``, ``condition``, images) are kept.
    """
    domain = load(DOMAIN, domain_text)
    responses = domain.setdefault("responses", CommentedMap())
    old = responses.get(name) or []
    new = CommentedSeq()
    for index, (text, buttons_text) in enumerate(variations):
        text = text.replace("\r\n", "\n").strip()
        buttons = parse_buttons(buttons_text)
        if not text and not buttons:
            continue
        variation = old[index] if index < len(old) and isinstance(old[index], CommentedMap) else CommentedMap()
        variation["text"] = DoubleQuotedScalarString(text)
        if buttons:
            variation["buttons"] = CommentedSeq(
                CommentedMap(title=DoubleQuotedScalarString(b["title"]),
                             payload=DoubleQuotedScalarString(b["payload"])) for b in buttons)
        else:
            variation.pop("buttons", None)
        new.append(variation)
    responses[name] = new
    return dump(DOMAIN, domain)


def edit_scenario(text: str, scenario: str, fields: dict[str, Any]) -> str:
    """Update one scenario's name, situation, truth, advice, stop and call question."""
    data = load(SCENARIOS, text)
    entry = data.get(scenario)
    if entry is None:
        entry = data[scenario] = CommentedMap()
    for key in ("name", "situation", "truth", "stop"):
        value = str(fields.get(key, "")).strip()
        if value or key in ("name", "situation", "truth"):
            entry[key] = value
        else:
            entry.pop(key, None)
    entry["advice"] = CommentedSeq(lines_of(str(fields.get("advice", ""))))
    if fields.get("ask_on_call"):
        entry["ask_on_call"] = True
    else:
        entry.pop("ask_on_call", None)
    return dump(SCENARIOS, data)


def edit_report_lines(text: str, lines: dict[str, dict[str, str]], banks: list[tuple[str, str]]) -> str:
    """Update the named report lines (number, name, use) and the stop-payment numbers."""
    data = load(REPORT_LINES, text)
    for key, values in lines.items():
        entry = data["lines"].setdefault(key, CommentedMap())
        for field in ("number", "name", "use"):
            if field in values:
                entry[field] = values[field].strip()
    new_banks = CommentedMap()
    for bank, number in banks:
        if bank.strip():
            new_banks[bank.strip()] = DoubleQuotedScalarString(number.strip())
    comment = data.ca.items.get("banks")
    data["banks"] = new_banks
    if comment is not None:
        data.ca.items["banks"] = comment
    return dump(REPORT_LINES, data)


def parse_region_lines(text: str) -> list[dict[str, str]]:
    """``名称 | 号码 | 用途`` per line."""
    rows = []
    for line in lines_of(text):
        parts = [part.strip() for part in line.split("|")]
        rows.append({"name": parts[0], "number": parts[1] if len(parts) > 1 else "",
                     "use": parts[2] if len(parts) > 2 else ""})
    return rows


def format_region_lines(lines: list[dict[str, Any]] | None) -> str:
    return "\n".join(f"{r.get('name', '')} | {r.get('number', '')} | {r.get('use', '')}" for r in lines or ())


def edit_regions(text: str, regions: list[tuple[str, str, str]]) -> str:
    """Set every region (key, name, lines text); a region with an empty key is dropped."""
    data = load(REGIONS, text)
    keep = set()
    for key, name, lines_text in regions:
        key = key.strip()
        if not key:
            continue
        keep.add(key)
        entry = data.get(key)
        if entry is None:
            entry = data[key] = CommentedMap()
        entry["name"] = name.strip() or key
        entry["lines"] = CommentedSeq(
            CommentedMap(name=r["name"], number=DoubleQuotedScalarString(r["number"]), use=r["use"])
            for r in parse_region_lines(lines_text))
    for key in [k for k in data if k not in keep]:
        del data[key]
    return dump(REGIONS, data)


def edit_examples(path: str, text: str, blocks: dict[int, str]) -> str:
    """Replace the examples of the NLU blocks at the given indexes (one example per line)."""
    data = load(path, text)
    for index, examples in blocks.items():
        block = data["nlu"][index]
        block["examples"] = LiteralScalarString("".join(f"- {e.removeprefix('- ')}\n" for e in lines_of(examples)))
    return dump(path, data)


def example_blocks(path: str, text: str) -> list[dict[str, Any]]:
    """The intent blocks of an NLU file: index in the file, intent, scenario and examples."""
    data = yaml.safe_load(text) or {}
    blocks = []
    for index, block in enumerate(data.get("nlu") or ()):
        if "intent" not in block:
            continue
        examples = [line.strip().removeprefix("- ").strip() for line in str(block.get("examples", "")).splitlines()]
        blocks.append({"index": index, "intent": block["intent"],
                       "scenario": (block.get("metadata") or {}).get("scenario"),
                       "examples": [e for e in examples if e]})
    return blocks


def example_file(scenario: str) -> str:
    """The NLU file a new ``consult`` example of ``scenario`` goes to: the scenario's own file, or the
    genuine messages' file for ``none`` (the files the examples pages edit)."""
    from nlu.scenario_ids import NONE_SCENARIO, SCENARIO_IDS

    if scenario == NONE_SCENARIO:
        return "nlu/data/general/none.yml"
    if scenario in SCENARIO_IDS:
        return f"nlu/data/scenarios/{scenario}.yml"
    raise ValueError(f"unknown scenario {scenario!r}")


def add_example(path: str, text: str, scenario: str, example: str, intent: str = "consult") -> str:
    """``text`` (an NLU file) with ``example`` appended to its first ``intent`` block of ``scenario``.

    One line, as the examples page would write it: line breaks become spaces, since an example is one line
    of the block. Unchanged when the block already has the example (a second reviewer's click adds nothing)."""
    line = " ".join(example.split())
    if not line:
        raise ValueError("an example cannot be empty")
    for block in example_blocks(path, text):
        if block["intent"] == intent and block["scenario"] == scenario:
            if line in block["examples"]:
                return text
            return edit_examples(path, text, {block["index"]: "\n".join([*block["examples"], line])})
    raise ValueError(f"{path} has no {intent} block of scenario {scenario!r}")
