"""What a resident's words say beyond the scam topic (``data/moments.yml``, ``data/safeguards.yml``).

The verdict weighs the evidence of a scam; an operator also hears what the resident has already
done (reported, clicked, gave a code), how the contact came (call, SMS, chat), who is asking
(a grandparent, a company's finance), when the message is a request rather than a story (how
to report, look up a number, a media placeholder), when a pasted bank notice is only a notice,
and when the caller is a real safeguard (area code + 96110, a 12381 SMS, a bank teller, the
police asking to install the national app). Pure functions over text and the two data files,
which administrators edit and which are re-read when they change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.knowledge import data_dir, fresh_yaml
from nlu.signals import affirmed

MOMENTS_FILE = "moments.yml"
SAFEGUARDS_FILE = "safeguards.yml"
# Lists whose patterns are negations themselves (钱还没转): a negation before them is no reason to drop them.
_SELF_NEGATED = frozenset({"money_not_gone"})
# "要我把验证码告诉他" tells a demand, not a code given: a fact of giving right after these is skipped.
_DEMANDED = re.compile(r"(要|让|叫|逼|求|骗|诱导|要求)(我|您|你)\S{0,6}$")
_GIVING = frozenset({"code_given", "card_given"})
_DONE = re.compile(r"我(也|都|就)?\S{0,2}了")  # "叫我报验证码给他，我报了": the act follows the demand
# "我怕报警了家里人知道", "要是点开了链接会怎样": a supposition, not something done.
_SUPPOSED = re.compile(r"(怕|如果|要是|假如|万一|打算|准备|该不该|要不要|会不会|能不能|应不应该|是不是要)\S{0,4}$")
_FEELINGS = frozenset({"afraid", "distress"})
# Facts remembered for the whole conversation (the others describe one moment, like fear).
LASTING_FACTS = ("reported_police", "code_given", "card_given", "link_clicked", "app_installed", "money_not_gone")


@dataclass(frozen=True)
class Safeguard:
    """A real protection residents should trust (``data/safeguards.yml``)."""

    id: str
    name: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...]
    explains: frozenset[str]
    say: str


_compiled: dict[str, tuple[Any, Any]] = {}


def _cached(name: str, build: Any) -> Any:
    """``build(parsed file)``, built again only when the file changed on disk."""
    data = fresh_yaml(data_dir() / name) or {}
    cached = _compiled.get(name)
    if cached is None or cached[0] is not data:
        cached = (data, build(data))
        _compiled[name] = cached
    return cached[1]


def _patterns(items: Iterable[Any] | None) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(str(p)) for p in items or ())


def _build_moments(data: dict[str, Any]) -> dict[str, dict[str, tuple[re.Pattern[str], ...]]]:
    groups: dict[str, dict[str, tuple[re.Pattern[str], ...]]] = {}
    for group in ("facts", "channel", "audience", "asks", "claims"):
        groups[group] = {key: _patterns(items) for key, items in (data.get(group) or {}).items()}
    notice = data.get("notice") or {}
    groups["notice"] = {"patterns": _patterns(notice.get("patterns")), "loss": _patterns(notice.get("loss"))}
    return groups


def _moments() -> dict[str, dict[str, tuple[re.Pattern[str], ...]]]:
    return _cached(MOMENTS_FILE, _build_moments)


def _found(patterns: Iterable[re.Pattern[str]], text: str, negated: bool = False, demanded: bool = False,
           supposed: bool = False) -> bool:
    """Whether a pattern matches where it counts: not right after a negation (unless the patterns
    are negations); with ``demanded`` not right after "要我/让我" (a demand, not an act); with
    ``supposed`` not right after "怕/要是" (a supposition, not an act)."""
    for pattern in patterns:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 8):match.start()]
            if not negated and not affirmed(text, match):
                continue
            if demanded and _DEMANDED.search(before) and not _DONE.search(match.group(0)):
                continue
            if supposed and _SUPPOSED.search(before):
                continue
            return True
    return False


def facts_in(text: str) -> set[str]:
    """What the resident says has happened or how they feel (ids of ``facts`` in moments.yml)."""
    return {key for key, patterns in _moments()["facts"].items()
            if _found(patterns, text, negated=key in _SELF_NEGATED, demanded=key in _GIVING,
                      supposed=key not in _FEELINGS)}


def follow_up_facts(text: str, earlier: Iterable[str]) -> set[str]:
    """Facts a short follow-up only means after an earlier demand: "已经发过去了" after someone asked
    for the code is a code given (``follow_ups`` in moments.yml, by the evidence found earlier)."""
    seen = set(earlier)
    spec = (fresh_yaml(data_dir() / MOMENTS_FILE) or {}).get("follow_ups") or {}
    return {fact for fact, rule in spec.items()
            if seen & set(rule.get("after") or ()) and _found(_patterns(rule.get("patterns")), text, supposed=True)}


def claims_identity(text: str) -> bool:
    """Whether someone in the story claims who they are (说是建行的, 自称民警)."""
    return _first("claims", text) is not None


def _first(group: str, text: str) -> str | None:
    for key, patterns in _moments()[group].items():
        if _found(patterns, text):
            return key
    return None


def channel_of(text: str) -> str | None:
    """How the contact came: ``in_person``, ``call``, ``sms`` or ``chat`` (first that fits), or None."""
    return _first("channel", text)


def audience_of(text: str) -> str | None:
    """Who is asking: ``company_finance``, ``elderly``, ``seller`` or ``buyer``, or None."""
    return _first("audience", text)


def request_in(text: str) -> str | None:
    """A request rather than a story: ``placeholder``, ``how_to_report`` or ``number_lookup``."""
    return _first("asks", text)


def is_notice(text: str) -> bool:
    """A pasted bank or payment notice of a transaction, with no word of the resident that it was a loss."""
    notice = _moments()["notice"]
    return _found(notice["patterns"], text) and not _found(notice["loss"], text)


def advice_fits(item: str, channel: str | None, audience: str | None) -> bool:
    """Whether an advice item fits the situation: an item for calls is not for a chat, a rule for a
    company's finance is not for a grandparent (``advice_needs`` in moments.yml). Unknown fits."""
    needs = (fresh_yaml(data_dir() / MOMENTS_FILE) or {}).get("advice_needs") or {}
    for situation, words in needs.items():
        if not any(str(word) in item for word in words or ()):
            continue
        if situation in ("call", "sms", "chat", "in_person"):
            if channel is not None and channel != situation:
                return False
        elif audience is not None and audience != situation:
            return False
    return True


def _build_safeguards(data: dict[str, Any]) -> list[Safeguard]:
    return [Safeguard(sid, str(spec.get("name") or sid), _patterns(spec.get("patterns")),
                      _patterns(spec.get("unless")), frozenset(spec.get("explains") or ()),
                      "".join(str(spec.get("say") or "").split()))
            for sid, spec in data.items() if isinstance(spec, dict)]


def safeguards() -> list[Safeguard]:
    return _cached(SAFEGUARDS_FILE, _build_safeguards)


def safeguard_in(text: str, decisive: Iterable[str] = ()) -> Safeguard | None:
    """The real safeguard the message describes, if any.

    ``decisive``: the demands the evidence found. A demand the safeguard does not itself explain
    (a safe account, a code) means the "96110" or "teller" is borrowed by a scammer: no safeguard.
    """
    demands = set(decisive)
    for guard in safeguards():
        if not _found(guard.patterns, text) or any(p.search(text) for p in guard.unless):
            continue
        if demands - guard.explains:
            continue
        return guard
    return None
