"""What the bot says to a resident: at most three short bubbles, one clear step first.

A 96110 operator listens first: money gone → 110 and the bank's stop-payment line (or, when the
resident already reported, the stop-payment line and what comes next); a code or card given →
freeze the card; a link clicked → type nothing more; a bank notice is a notice; a real safeguard
is called genuine; distress gets warmth and 12356 before anything else. Otherwise the verdict of
:mod:`core.verdict` is told with the exact signs from the message.

Pure functions over a :class:`~core.verdict.Case`, shared by the action server, ``fraudbot
check`` and the group auto-warning. Length limits are part of the contract (tests check them):
no bubble over ``MAX_CHARS``, the first bubble of an urgent case at most ``URGENT_FIRST``, at most
``MAX_BUBBLES`` bubbles; the full hotline block once per conversation (``Case.lines_shown``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.knowledge import DEFAULT_STOP, ReportLine, domain_responses, scenarios
from core.languages import ENGLISH, english_verdict, in_script
from core.moments import advice_fits
from core.report_lines import (
    bank_line,
    in_app_service,
    line,
    link_host,
    official_domain,
    official_number,
    official_site,
    route,
)
from core.reporting import FEEDBACK_USEFUL, FEEDBACK_WRONG, payload, report_payload
from core.verdict import (
    COULD_NOT_READ,
    NONE,
    Case,
    assessment,
    confirmed_indicators,
    known_hits,
    reported_indicators,
    situation,
)
from nlu.entities import redact
from nlu.evidence import Assessment, evidence_table, quote

MAX_BUBBLES = 3
MAX_CHARS = 200
URGENT_FIRST = 80
BANK_BUTTONS = ("工商银行", "建设银行", "农业银行", "中国银行", "邮储银行", "支付宝", "微信支付")
SHORT_LINES = "拿不准就打96110问问；钱被转走了马上打110。"
CALM = "先别慌，您来问就对了。"
# The golden hour names the scam it resembles only when the classifier is this sure: "转了5000" alone
# says nothing of which scam it was.
TRUTH_CONFIDENCE = 0.6
_CALLBACK = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|400-?\d{3}-?\d{4}")  # a number a notice could ask you to call

_WOULD_BE_SCAM = "如果对方让您转账、交钱、要验证码或密码，或让您下载APP、开屏幕共享，那就是诈骗。"
_HOW_TO_VERIFY = {
    "call": "想核实，挂断后自己拨打官方电话（卡背面、官方APP上的号码），不要回拨对方号码。",
    "sms": "想核实，别点短信里的链接、别回拨里面的号码，自己打开官方APP或拨打官方客服。",
    "chat": "想核实，请打对方原来的电话或当面问，不要只凭聊天里的一句话。",
}
_VERIFY_DEFAULT = "想核实，自己拨打官方电话，或当面问问家人，不要用对方给的联系方式。"
_SETTLE = {
    "call": "关键看：对方有没有让您转账、交钱、要验证码、开屏幕共享或下载APP？有一样就是诈骗。",
    "sms": "关键看：短信有没有让您点链接填卡号、密码、验证码，或者回拨？有就是诈骗。",
}
_SETTLE_DEFAULT = "关键看：对方有没有让您转账、先交钱、要验证码、下载APP或保密？有一样就是诈骗。"
# The buttons under a judgement: residents tell whether it helped, and report a high-risk one (core.reporting).
REPORT_TITLE, USEFUL_TITLE, WRONG_TITLE = "举报", "有用", "判断不对"


@dataclass
class Reply:
    """What the bot says: message texts in order, with buttons on the last one if any."""

    risk: str
    messages: list[str]
    buttons: list[dict[str, str]] = field(default_factory=list)
    ask_bank: bool = False
    lines_shown: bool = False  # this reply named the hotline block
    judged: bool = False  # this reply judges the resident's message: they may say whether it was right
    money_gone: bool = False  # the golden hour: the bot may offer to check back tomorrow (回访, core.followup)


def feedback_buttons(case: Case, risk: str) -> list[dict[str, str]]:
    """有用 / 判断不对 under every judgement; 举报 first under a high-risk one, carrying the numbers the
    conversation will have masked by the time it is pressed (:func:`core.reporting.report_payload`)."""
    buttons = [{"title": USEFUL_TITLE, "payload": payload(FEEDBACK_USEFUL)},
               {"title": WRONG_TITLE, "payload": payload(FEEDBACK_WRONG)}]
    if risk == "high":
        buttons.insert(0, {"title": REPORT_TITLE, "payload": report_payload(case.entities, case.text)})
    return buttons


def _lines(lines: list[ReportLine]) -> str:
    """The hotline block, compact: number and name, one a line."""
    return "求助电话：\n" + "\n".join(f"· {item.number}" + ("" if item.number == item.name else f" {item.name}")
                                     for item in lines)


def _numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def _fit(text: str, limit: int = MAX_CHARS) -> str:
    """Cut a bubble to ``limit`` characters at a line end (lists lose their last items first)."""
    if len(text) <= limit:
        return text
    lines = text.split("\n")
    while len(lines) > 1 and len("\n".join(lines)) > limit:
        lines.pop()
    kept = "\n".join(lines)
    return kept if len(kept) <= limit else kept[:limit - 1] + "…"


def _finish(case: Case, reply: Reply) -> Reply:
    """Apply the limits and the resident's script (Traditional in, Traditional out); a judgement gets the
    feedback buttons, unless it already asks something with its own (the golden hour's bank question)."""
    messages = [m for m in reply.messages if m][:MAX_BUBBLES]
    messages = [_fit(m) for m in messages]
    reply.messages = in_script(messages, case.language)
    if reply.judged and not reply.buttons:
        reply.buttons = feedback_buttons(case, reply.risk)
    return reply


def _calm(case: Case, text: str) -> str:
    return CALM + text if "afraid" in case.facts and len(CALM + text) <= URGENT_FIRST else text


def _tail(case: Case, where: str, bank: str | None = None, drop: tuple[str, ...] = ()) -> tuple[str, bool]:
    """The hotline block the first time in a conversation, else one short line; and whether it was shown."""
    if case.lines_shown:
        return SHORT_LINES if "police" not in drop else "拿不准就打96110问问。", False
    lines = [item for item in route(where, bank) if not any(item.number == line(d).number for d in drop)]
    return _lines(lines), True


# -- the moments before any verdict ------------------------------------------------------------

def could_not_read() -> Reply:
    """Nothing readable: no verdict, a request to say it again, and 96110 and 110 (the domain's text)."""
    return Reply("low", [domain_responses()[COULD_NOT_READ][0]["text"]])


def comfort(case: Case) -> Reply:
    """Despair ("不想活了"): warmth first, 12356, 110 if in danger; the money comes after."""
    first = "您先别着急，被骗不是您的错，您的安全最要紧。心里难受就打12356，有危险马上打110。"
    second = "12356是全国心理援助热线，有人陪您说说话。也请告诉家人，让他们陪着您。"
    messages = [first, second]
    if case.money_sent:
        messages.append("钱的事还有办法：报警并让银行紧急止付，还有机会追回。我一直在这里，您想说就跟我说。")
    return Reply("high", messages)


def calm_and_ask(case: Case) -> Reply:
    """Fear with nothing yet to judge ("我好害怕"): calm first, then ask what happened."""
    return Reply("low", ["别怕，先别慌，您来问就对了。先别转账、别说验证码。",
                         "请慢慢跟我说说发生了什么：谁联系的您，让您做什么？把短信或聊天原文发给我也行。\n"
                         "如果钱已经被转走了，马上打110。"])


def placeholder() -> Reply:
    return Reply("low", ["我看不到图片、语音和文件。请把短信或聊天里的文字打出来发给我，或者用一两句话说说发生了什么。",
                         "拿不准的，马上打96110问问；已经转了钱，立刻打110。"])


def how_to_report() -> Reply:
    return Reply("low", [
        "举报可以这样做：\n1. 诈骗短信：转发到12321。\n2. 诈骗电话、网址、账户：在国家反诈中心APP里点“我要举报”。\n"
        "3. 拿不准或想找民警说：打96110。",
        "已经被骗转了钱，不要只举报，马上打110报警。"], lines_shown=True)


def judged_and_reported(case: Case) -> Reply:
    """A scam story that also asks where to report it (收到假冒银行的短信…我想举报，往哪发): the verdict and why
    it is one, then how to report it in place of the general steps; 110 stays for money already sent."""
    told = verdict(case)
    steps = how_to_report()
    told.messages = [*told.messages[:2], steps.messages[0] + "\n" + steps.messages[1]]
    told.lines_shown = True
    return told


def number_lookup(case: Case) -> Reply:
    """What the bot can and cannot see about a number, and where to check it."""
    notes = []
    for entity in case.entities:
        if entity.get("entity") == "phone":
            what = official_number(str(entity.get("value")))
            shown = redact(str(entity.get("value")))
            notes.append(f"{entity['value']} 是{what}的官方号码。" if what else f"{shown} 不在我知道的官方号码里。")
    first = ("我查不到一个号码是不是骗子，只认得官方号码（110、96110、银行95开头的客服等）。"
             + "".join(notes[:2]))
    return Reply("low", [first, "查号码请用国家反诈中心APP的“风险查询”，或打96110问民警。"
                         "不管号码是谁，让您转账、要验证码的都是诈骗。"])


def english(case: Case) -> Reply:
    found = english_verdict(case.text)
    return Reply(found.risk, list(found.messages))


def notice(case: Case) -> Reply:
    """A pasted bank or payment notice: a notice to check, not the golden hour."""
    found = bank_line(case.bank)
    call = f"马上打{case.bank}客服{found.number}" if found else "马上打卡背面的银行客服电话"
    return Reply("low", [
        "这是一条银行或支付平台的交易通知，不是诈骗本身。",
        f"请核对是不是您本人的消费：是，就不用管；不是您本人花的，{call}冻结卡片、查明原因。",
        "通知里要是有链接或让您回拨的号码，别点也别回拨，以卡背面的号码为准。拿不准就打96110问问。"], judged=True)


def safeguard(case: Case, say: str) -> Reply:
    return Reply("low", [say], judged=True)


# -- what the resident has already done ---------------------------------------------------------

def _stop_payment(case: Case) -> tuple[str, str | None]:
    """The instruction to stop the payment, and the number named (None: none is known)."""
    found = bank_line(case.bank)
    if found:
        return f"打{case.bank}官方客服{found.number}申请紧急止付", found.number
    app = in_app_service(case.bank)
    if app:
        return f"在{app}APP里找官方客服申请止付，并打它绑定的银行卡的银行客服", None
    return "打转账用的银行或支付平台官方客服申请紧急止付", None


def golden_hour(case: Case) -> Reply:
    """Money already gone: 110 and stop-payment first; after reporting, what comes next."""
    step, _number = _stop_payment(case)
    reported = "reported_police" in case.facts
    if reported:
        first = f"您已经报警了，做得对。现在马上{step}，越快越好。"
        second = "请收好报案回执，保存好证据：聊天记录、转账凭证和对方账号。说能“帮您追回钱”的，也是骗子。"
    else:
        first = f"🚨 请马上打110报警，再{step}。越快越有希望追回。"
        second = "保存好证据：聊天记录、转账凭证、对方账号，都别删。别再转一分钱；说能“帮您追回钱”的，也是骗子。"
    info = case.named_scenario if case.confidence >= TRUTH_CONFIDENCE else None
    if info and info.truth and len(second) + len(info.name) + len(info.truth) + 8 <= MAX_CHARS:
        second += f"\n这很像「{info.name}」：{info.truth}"
    messages = [_calm(case, first) if len(first) <= URGENT_FIRST - 4 else first, second]
    known = bank_line(case.bank) or in_app_service(case.bank)
    if not known:
        messages.append("您是用哪家银行或支付平台转的钱？告诉我，我把它的官方电话给您。")
        buttons = [{"title": bank, "payload": f'/inform{{"bank":"{bank}"}}'} for bank in BANK_BUTTONS]
        return Reply("high", messages, buttons, ask_bank=True, judged=True, money_gone=True)
    tail, shown = _tail(case, "money_sent", case.bank, drop=("police",) if reported else ())
    messages.append(tail)
    return Reply("high", messages, lines_shown=shown, judged=True, money_gone=True)


def card_or_code_given(case: Case) -> Reply:
    """A code or card details given, no money gone yet: freeze now, while the money is still there."""
    found = bank_line(case.bank)
    who = f"{case.bank}客服{found.number}" if found else "卡背面的银行客服电话"
    first = _calm(case, f"🚨 高风险！请马上打{who}，冻结这张卡、改密码。钱还在，还来得及。")
    second = "有验证码进来，谁要都别给。留意银行短信，一旦发现扣款，立刻打110报警，再让银行止付。"
    tail, shown = _tail(case, "call")
    return Reply("high", [first, second, tail], lines_shown=shown, judged=True)


def clicked_or_installed(case: Case) -> Reply:
    """A link opened or an app installed: type nothing more, undo, change passwords, watch for codes."""
    steps = []
    if "app_installed" in case.facts:
        steps.append("马上关掉屏幕共享，卸载对方让装的APP")
    steps.append("别在那个网页或APP里再填任何东西")
    steps.append("改掉支付密码和网银密码")
    first = _calm(case, "🚨 高风险！" + "，".join(steps[:2]) + "。")
    second = ("这几天收到的验证码，谁要都别给。如果已经填了卡号、密码或验证码，马上打银行客服冻结卡片；"
              "发现扣款，立刻打110。")
    tail, shown = _tail(case, "sms")
    return Reply("high", [first, "接着" + steps[-1] + "。" + second, tail], lines_shown=shown, judged=True)


def first_aid(case: Case) -> Reply:
    """"我被骗了怎么办" with nothing else yet: the step that cannot wait, and the one question that decides."""
    return Reply("high", [
        _calm(case, "先别慌，我来帮您。钱已经转出去了吗？"),
        "如果已经转了：马上打110报警，再打转账用的银行或支付平台官方客服，申请紧急止付，越快越好。\n"
        "如果还没转：别再转，也别给验证码。跟我说说对方是谁、让您做了什么。"])


def next_steps(case: Case) -> Reply:
    """"那我该怎么办" after a verdict: the scenario's steps, in order, and whom to call."""
    info = case.named_scenario
    steps = _advice(case, info.id)
    tail, shown = _tail(case, situation(case), case.bank)
    return Reply("medium", ["您可以这样做：\n" + _numbered(steps[:3]), tail], lines_shown=shown)


def after_report(case: Case) -> Reply:
    """Already reported to the police, no word yet of the money: what comes next, never "call 110"."""
    step, _number = _stop_payment(case)
    return Reply("high", [
        "您已经报警了，做得对。",
        f"接下来：\n1. 收好报案回执，记下办案民警的电话。\n2. 如果转了钱，马上{step}。\n"
        "3. 聊天记录、转账凭证、对方账号都别删。",
        "说能“帮您追回钱”、要您先交手续费的，都是骗子。拿不准就打96110问问。"])


# -- the verdict --------------------------------------------------------------------------------

def _sign_notes(case: Case) -> list[str]:
    """The exact numbers and links of the message, and whether they are official."""
    notes = []
    named = next((str(e.get("value")) for e in case.entities if e.get("entity") in ("bank", "platform")), None)
    for entity in case.entities:
        value = str(entity.get("value") or "")
        if entity.get("entity") == "url":
            host = link_host(value) or value
            if official_domain(value):
                notes.append(f"· 网址 {host} 属于官方网站域名，但仍别在网页上说验证码。")
            else:
                real = official_site(named)
                notes.append(f"· 网址 {host} 不是官方网站" + (f"，{named}的官网是 {real}。" if real else "。"))
        elif entity.get("entity") == "phone":
            what = official_number(value)
            notes.append(f"· {value} 是{what}的官方号码，但来电显示能伪造，核实请自己拨打。" if what
                         else f"· {redact(value)} 不是官方号码。")
    return notes[:2]


def _reasons(case: Case, found: Assessment) -> list[str]:
    """The evidence that decided the level, pointing at the words of the message."""
    table = evidence_table()
    info = case.named_scenario
    covered = info.covers if info else frozenset()
    ids = found.against_ids if found.risk == "low" else [e for e in found.for_ids if e not in covered]
    reasons = []
    for eid in ids[:2]:
        words = quote(case.text, eid)
        shown = f"（“{words}”）" if words and words not in table[eid].name else ""
        reasons.append(f"· {table[eid].name}{shown}：{table[eid].explain}")
    return reasons


_INDICATOR_NAMES = {"phone": "号码", "domain": "网址", "bank_card": "账户", "im_account": "账号", "app": "APP"}


def indicator_name(kind: str) -> str:
    """What a resident calls an indicator of ``kind`` (core.indicators.KINDS): 号码, 网址, 账户 …"""
    return _INDICATOR_NAMES.get(kind, "号码")


def _day(iso: object) -> str:
    """``2026-11-20`` → ``11月20日`` (empty when unknown)."""
    match = re.fullmatch(r"\d{4}-(\d{2})-(\d{2})", str(iso or ""))
    return f"{int(match.group(1))}月{int(match.group(2))}日" if match else ""


def known_notes(case: Case) -> list[str]:
    """What the store knows, in the resident's words: a confirmed indicator (with the day), a known scam's
    text (naming the 警情通报 or case), and how many residents reported an indicator. Most certain first."""
    notes = []
    for item in confirmed_indicators(case)[:1]:
        day = _day(item.get("confirmed_at"))
        notes.append(f"这个{_INDICATOR_NAMES.get(str(item.get('kind')), '号码')}已被公安机关确认为诈骗"
                     f"{_INDICATOR_NAMES.get(str(item.get('kind')), '号码')}" + (f"（{day}）" if day else "") + "。")
    if case.known:
        day, title = _day(case.known.get("added_at")), str(case.known.get("title") or "")
        if str(case.known.get("source") or "").startswith("alert:") and title:
            notes.append(f"和{day}警情通报《{title}》是同一种骗局。")
        else:
            notes.append("这条和警方掌握的诈骗信息几乎一样，是同一种骗局。")
    for item in reported_indicators(case)[:1]:
        notes.append(f"这个{_INDICATOR_NAMES.get(str(item.get('kind')), '号码')}已有{int(item['report_count'])}"
                     "位居民举报过。")
    return notes


def _advice(case: Case, info_id: str) -> list[str]:
    return [item for item in scenarios()[info_id].advice if advice_fits(item, case.channel, case.audience)]


def verdict(case: Case) -> Reply:
    """高风险 / 需警惕 / 未发现明显诈骗特征, why (the signs in the message), what to do, whom to call."""
    found = assessment(case)
    level = found.risk
    info = case.named_scenario
    where = case.channel if case.channel in ("call", "sms", "chat") else situation(case)
    if case.knowledge_question and info:
        advice = _advice(case, info.id)[:2]
        tail, shown = _tail(case, info.situation)
        return Reply("low", [f"「{info.name}」是这样骗人的：{info.truth}",
                             "遇到了怎么办：\n" + _numbered(advice), tail], lines_shown=shown)  # knowledge, not judged
    reasons = _reasons(case, found) + _sign_notes(case)
    notes = known_notes(case)
    if notes and not known_hits(case):
        reasons.insert(0, "· " + notes[0])  # a reported indicator: mentioned with its count, it decides nothing
    if case.alert_title:
        reasons.insert(0, f"· 这和警方发布的警情通报《{case.alert_title}》说的是同一类骗局，请对照提醒，千万别转账。")
    if level == "high":
        stop = info.stop if info else DEFAULT_STOP
        name = f"「{info.name}」" if info else ""
        first = (f"⚠️ 高风险：这是{name}，{stop}" if info and info.situation == "card_trafficking"
                 else f"⚠️ 高风险：这很像{name}诈骗。{stop}")
        if notes and known_hits(case):
            first = "⚠️ 高风险：" + "".join(notes[:2]) + stop
            if len(first) > URGENT_FIRST + 40:
                first = "⚠️ 高风险：" + notes[0] + stop
        why = "\n".join(reasons[:3])
        if info and info.truth and len(why) + len(info.truth) < MAX_CHARS - 10:
            why = (why + "\n" if why else "") + info.truth
        advice = _advice(case, info.id if info else NONE)[:2]
        tail, shown = _tail(case, situation(case), case.bank)
        third = "现在就做：\n" + _numbered(advice) + "\n" + tail
        if len(third) > MAX_CHARS:
            third = "现在就做：\n" + _numbered(advice[:1]) + "\n" + tail
        return Reply("high", [_calm(case, first), "为什么：\n" + why if why else "", third], lines_shown=shown,
                     judged=True)
    if level == "medium":
        first = (f"⚠️ 需警惕：这有「{info.name}」诈骗的特征，还不能确定。先别转账、别说验证码。" if info
                 else "⚠️ 需警惕：里面有诈骗常见的危险信号，还不能确定。先别转账、别说验证码。")
        why = ("为什么：\n" + "\n".join(reasons[:2]) + "\n") if reasons else ""
        tail, shown = _tail(case, situation(case), case.bank)
        return Reply("medium", [_calm(case, first), why + _SETTLE.get(where, _SETTLE_DEFAULT), tail],
                     lines_shown=shown, judged=True)
    first = "目前未发现明显诈骗特征，但这不代表一定安全。"
    if reasons:
        first += "\n" + "\n".join(reasons[:2])
    second = _WOULD_BE_SCAM + "\n" + _HOW_TO_VERIFY.get(where, _VERIFY_DEFAULT)
    tail, shown = _tail(case, "consult")
    return Reply("low", [_calm(case, first), second + "\n" + tail], lines_shown=shown, judged=True)


def call_check_verdict(case: Case) -> Reply:
    """After the three questions: the answers decide, and the reply says which answer did."""
    if case.money_sent:
        return golden_hour(case)
    if case.asked_money is False and case.asked_code is False:
        tail, shown = _tail(case, "call")
        return Reply("low", [
            "从您的回答看，对方没让您转账，也没要验证码，钱也没动，目前不像诈骗。",
            "不过，如果对方再打来让您转账、交钱、要验证码或下载APP，那就是诈骗，直接挂断。"
            + _HOW_TO_VERIFY["call"],
            tail], lines_shown=shown, judged=True)
    reply = verdict(case)
    said = "让您转账" if case.asked_money else "要验证码、屏幕共享或APP"
    if len(reply.messages[0]) < URGENT_FIRST - 20:
        reply.messages[0] += f"\n您说对方{said}，这正是诈骗的关键一步。"
    if len(reply.messages) > 1 and len(reply.messages[1]) < MAX_CHARS - 30:
        reply.messages[1] += "\n钱要是已经转了，马上打110报警，再打银行客服止付。"
    return reply


def compose(case: Case) -> Reply:
    """The reply for a case: the moment first (what the resident just said), then the verdict."""
    if case.unreadable:
        return _finish(case, could_not_read())
    if "distress" in case.facts:
        return _finish(case, comfort(case))
    if case.request == "placeholder":
        return _finish(case, placeholder())
    if case.language == ENGLISH:
        return _finish(case, english(case))
    if case.money_sent:
        return _finish(case, golden_hour(case))
    if case.facts & {"code_given", "card_given"}:
        return _finish(case, card_or_code_given(case))
    if case.facts & {"link_clicked", "app_installed"}:
        return _finish(case, clicked_or_installed(case))
    if "reported_police" in case.facts:
        return _finish(case, after_report(case))
    found = assessment(case)
    if known_hits(case):
        return _finish(case, verdict(case))  # the police confirmed it, or it is a known scam: say so first
    guard = case.safeguard(found.decisive)
    if guard is not None:
        return _finish(case, safeguard(case, guard.say))
    table = evidence_table()
    if case.notice and not found.decisive and not any(table[e].kind in ("link", "channel") for e in found.for_ids) \
            and not any(e.get("entity") == "phone" and _CALLBACK.fullmatch(str(e.get("value")))
                        and not official_number(str(e.get("value"))) for e in case.entities):
        # a plain notice; one that asks for a call back to a mobile number or a link is judged
        return _finish(case, notice(case))
    if case.request == "how_to_report":
        return _finish(case, how_to_report() if not found.decisive else judged_and_reported(case))
    if case.request == "number_lookup" and not found.decisive:
        return _finish(case, number_lookup(case))
    if case.request == "scammed" and not found.decisive:
        return _finish(case, first_aid(case))
    if case.request == "what_to_do" and case.follow_up and case.named_scenario:
        return _finish(case, next_steps(case))
    if case.from_call_check:
        return _finish(case, call_check_verdict(case))
    return _finish(case, verdict(case))


def explain_scenario(scenario: str) -> list[str]:
    """What a scam is and what to do, for a resident who asks for details (no story told)."""
    info = scenarios()[scenario]
    return [f"「{info.name}」是这样骗人的：{info.truth}",
            "遇到了怎么办：\n" + _numbered(list(info.advice)),
            _lines(route(info.situation))]
