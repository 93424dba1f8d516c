"""The text of an early warning (预警): what residents read when a scam rises in their area.

The daily 研判 finds the rise (``bot/daily_report.py``); an officer presses 起草预警 in the admin and gets this
text in the alerts form, edits it if he wants, and sends it himself to residents' groups. Its readers are
elderly residents in a WeChat or Telegram group, so it is short (at most :data:`MAX_CHARS` characters), warm,
in plain Simplified Chinese, and says only what is known: the scenario's own truth and advice, which
administrators keep in ``core/data/scenarios.yml``, and how many consultations the report counted. Nothing is
invented: no loss, no victim, no number that is not in those. It always ends with the lines to call, so that a
reader who is in the middle of it knows where to turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.knowledge import ScenarioInfo, regions
from nlu.scenario_ids import NONE_SCENARIO

MAX_CHARS = 300
NATIONAL = "national"
"""The region key of a nationwide deployment (``core.knowledge.region_key``): the readers are everywhere."""
CLOSING = "拿不准就打96110反诈专线问一问；钱已经转出去了，马上打110报警。"


@dataclass(frozen=True)
class EarlyWarning:
    title: str
    body: str


def place_name(region: str) -> str:
    """Where the rise was, as residents say it: nothing for a nationwide deployment, 本地 for a deployment's own
    region key (``regions.yml`` names its police centre, not the place), a group's area tag (朝阳) as it is."""
    if not region or region == NATIONAL:
        return ""
    return "本地" if region in regions() else region


def script_draft(sample: str, info: ScenarioInfo | None, residents: int) -> EarlyWarning:
    """The warning about a new script several residents brought (``sample``: its redacted opening, as the
    daily report shows it): quote it so readers recognise it, say what it is, and where to call."""
    name = info.name if info is not None and info.id != NONE_SCENARIO else "诈骗"
    advice = [f"· {info.advice[0].strip()}"] if info is not None and info.advice else []
    opening = f"【反诈预警】近日有{residents}位居民收到这样的消息：“{sample.strip()}……”"
    body = "\n".join([opening, f"这是“{name}”的新说法，是诈骗。不点链接、不回拨、不转账。", *advice, CLOSING])
    if len(body) > MAX_CHARS:
        body = "\n".join([opening, f"这是“{name}”的新说法，是诈骗。不点链接、不回拨、不转账。", CLOSING])
    return EarlyWarning(f"反诈预警：当心“{name}”新话术", body[:MAX_CHARS])


def draft(info: ScenarioInfo, region: str, count: int) -> EarlyWarning:
    """The warning for ``count`` consultations of ``info``'s scam in ``region`` on a day they rose.

    The scenario's advice is kept in its order (the most urgent first); items are dropped from the end, then
    the truth, until the text fits :data:`MAX_CHARS`. The first piece of advice and the closing lines always
    stay."""
    if info.id == NONE_SCENARIO:
        raise ValueError("an early warning is about a scam: 'none' has nothing to warn of")
    if count < 1:
        raise ValueError("an early warning needs consultations that rose")
    if not info.advice:
        raise ValueError(f"scenario {info.id} has no advice to give")
    opening = (f"【反诈预警】近日，反诈助手一天里就接到{place_name(region)}居民{count}次关于“{info.name}”的咨询，"
               "比平时多了不少，请您和家人多留个心眼。")
    truth = [info.truth.strip()] if info.truth.strip() else []
    advice = [f"· {item.strip()}" for item in info.advice if item.strip()]
    body = ""
    for keep_truth in (True, False):
        for shown in range(len(advice), 0, -1):
            body = "\n".join([opening, *(truth if keep_truth else []), "请记住：", *advice[:shown], CLOSING])
            if len(body) <= MAX_CHARS:
                return EarlyWarning(f"反诈预警：当心“{info.name}”骗局", body)
    raise ValueError(f"scenario {info.id}: even its first piece of advice makes the warning longer than "
                     f"{MAX_CHARS} characters ({len(body)})")
