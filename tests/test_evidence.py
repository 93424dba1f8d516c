"""Evidence for and against a scam (nlu/evidence.yml), each rule on its own, and how it adds up."""

from __future__ import annotations

import time

import pytest

from core.replies import compose
from core.report_lines import official_domain, official_number
from core.verdict import NONE, Case, assessment, risk, warrants_group_warning
from nlu.evidence import AGAINST, FOR, Thresholds, assess, evidence_table, find
from nlu.signals import detect_signals

# id: (a message that shows it, a message that does not: negated or absent)
RULES = {
    "asks_transfer": ("对方让我马上转账到他给的账户", "对方没让我转账，就问了问情况"),
    "asks_to_lend": ("打电话来说是老同学，遇到难处要借两万", "我借了同事一本书"),
    "hands_over_card": ("那人叫我去银行办张新卡，办好了卡给他，他给我五百", "我陪孩子去银行办了张卡，卡他自己拿着"),
    "pays_compensation": ("说我孙子把人打伤了，要赔2万块才能私了", "孩子学校说医药费由保险公司出"),
    "relays_money": ("网友让我帮他收一笔钱再转给别人", "我帮邻居收了个快递"),
    "gift_card": ("他让我去超市买了3000的购物卡，把卡密发给他", "公司发了一张超市卡当福利"),
    "pay_on_behalf": ("王总说他在开会，让我先帮他转一下给客户", "我帮邻居收了个快递"),
    "asks_borrow_loan": ("客服让我打开借呗借两万出来", "我从来不用借呗"),
    "asks_credentials": ("他让我把银行卡号和密码发给他核对", "银行卡密码我谁也没告诉"),
    "asks_scan_code": ("对方让我扫一下他发的二维码领退款", "超市门口的二维码我没扫"),
    "their_platform": ("股票课老师让我们去一个港股平台开户", "理财经理让我在手机银行APP里买了定期"),
    "asks_cash_courier": ("让我取出现金交给上门的工作人员保管", "我去银行取了点现金买菜"),
    "unfreeze_fee": ("客服说账户冻结了，要交解冻款才能提现", "账户一切正常"),
    "known_script": ("【工商银行】您的电子密码器将于次日失效，请登录网站激活", "我的工行卡今天刚办好"),
    "account_change": ("供应商发邮件说换了收款账户，让把货款付到新账户", "供应商的账户用了五年，这次照常付的"),
    "fake_payment": ("客人说转多了一千，发了张截图让我退他", "客人扫码付款，收款音箱报了到账"),
    "platform_backend": ("抖店扣了保证金，后台能看到扣款原因和订单号", "客服打电话说保证金异常，要加微信处理"),
    "too_cheap": ("群里有人卖三折的名牌包，说是正品", "超市打三折，买了点菜"),
    "reassurance": ("放心，资金是第三方托管的，亏了公司全额补偿", "放心，我明天就把书还你"),
    "stranger_contact": ("有个陌生人加我微信说是老同学", "我加了小区物业的微信"),
    "check_found_impostor": ("我们让她打侄子原来的号码核实，结果侄子好好的在上班", "打他原来的号码核实了，确实是他"),
    "contact_hook": ("【会所】高端私人订制服务，加Q 8866xxxx详询。回T退订", "【某健身房】会员日送课，详情到前台咨询"),
    "overseas_number": ("一个+00开头的号码打给我", "小区保安给我打了电话"),
    "pressure": ("说必须24小时内处理，否则冻结账户", "他说不着急，慢慢来"),
    "callback": ("短信说退款请回复1，有客服联系您", "短信说您的快递到了"),
    "in_person": ("女儿当面找我借两万块钱", "网恋对象从没见过面，说要借钱"),
    "own_channel": ("我自己打开了工商银行官方APP查了一下", "对方发了个链接让我下载APP"),
    "verified_by_own_call": ("孙子说要交资料费，我打他平时用的号码问了，是真的", "他让我打他给的号码核实一下"),
    "never_met": ("网上认识的女朋友说等她来了当面还我，可我们到现在还没见过", "我们见过好几次面了"),
    "settled_officially": ("在游戏内商城买的皮肤，用我自己的微信付的", "对方说游戏账号可以私下交易，便宜一半"),
    "lottery_shop": ("刮刮乐刮中一百，是在福彩站买的，兑奖要交税吗", "快递里有张刮刮乐，刮中二等奖，打上面电话领奖"),
    "money_arrived": ("【某银行】您的养老金2300元已发放至尾号0921账户", "补贴马上就发，先交200元手续费"),
    "nothing_asked": ("他什么都没要，就说注意安全", "他要我转账"),
    "warning_or_news": ("新闻说警方抓获了一个诈骗团伙", "有人给我打电话说我中奖了"),
    "case_bulletin": ("【以案说法】一名大学生收到私信，被要求先交纳保证金", "【XX银行】您的账户异常，请先交纳保证金"),
    "says_it_is_fraud": ("凡是要求转账到安全账户的都是诈骗", "请把钱转到安全账户"),
    "refund_back": ("退款已经原路退回到我的银行卡了", "他说先转过去验资，验完原路退回"),
    "marketing_optout": ("会员日全场五折，回T退订", "您的医保卡异常，请点击链接"),
    "code_for_you": ("【支付宝】您的验证码为384756，5分钟内有效，请勿泄露给他人。", "客服问我要验证码"),
    "points_to_official": ("您的账单已出，可登录手机银行查询", "点击 http://x-bank.top 查询"),
    "own_request": ("验证码是我自己登录淘宝时申请的", "有人打电话问我要验证码"),
    "plain_question": ("征信报告在哪里查", "有人说能帮我修复征信"),
    "protects_family": ("我妈一个人住，怎么提醒她别被冒充公安的骗了", "他让我别信别人，说家里人都不懂"),
}


def test_every_rule_with_patterns_is_tested() -> None:
    table = evidence_table()
    patterned = {eid for eid, item in table.items() if item.patterns}
    assert patterned == set(RULES)
    assert all(item.side in (FOR, AGAINST) and item.name and item.explain for item in table.values())


@pytest.mark.parametrize("eid", sorted(RULES))
def test_each_rule_alone(eid: str) -> None:
    shows, does_not = RULES[eid]
    assert eid in find(shows, signals=[]), shows
    assert eid not in find(does_not, signals=[]), does_not


def test_signals_are_evidence_for() -> None:
    found = find("自称公安局说我涉嫌洗钱，让我转到安全账户，不要告诉家人")
    assert {"safe_account", "secrecy", "impersonate_official"} <= set(found)
    assert "safe_account" not in find("他没说安全账户的事")


def test_links_and_numbers_are_checked_against_the_official_lists() -> None:
    phishing = find("请登录 http://icbc-safe.top 激活", entities=[{"entity": "url", "value": "http://icbc-safe.top"}],
                    is_official_number=official_number, is_official_domain=official_domain)
    assert "unofficial_link" in phishing and "official_contact" not in phishing
    official = find("请登录 https://www.icbc.com.cn 查询", entities=[{"entity": "url", "value": "https://www.icbc.com.cn"}],
                    is_official_number=official_number, is_official_domain=official_domain)
    assert "official_contact" in official and "unofficial_link" not in official
    assert "official_contact" in find("如有疑问请致电95588", entities=[{"entity": "phone", "value": "95588"}],
                                      is_official_number=official_number)


def test_patterns_stay_fast_on_hostile_input() -> None:
    for text in ("让我" * 1000, "积分清零" * 500, "验证码为123456" * 200, "(在" * 1000, "+00" * 700):
        started = time.perf_counter()
        find(text)
        assert time.perf_counter() - started < 0.5



# The same demands and facts in the other words residents and scripts use, each beside the
# genuine sentence closest to it that must not count.
OTHER_WORDS = [
    ("你先借我5000，微信转账给我，明天就还你", "asks_to_lend", "我借了同事五千块，他下个月还"),
    ("他说在医院，让我转到他同学卡上", "asks_transfer", "我转钱给我爸，他让我直接打到他银行卡"),
    ("对方说不想出名就把钱转到这个账户", "asks_transfer", "工资每月转到我自己的卡上"),
    ("老师让我先入金五万试试", "asks_transfer", "我在自己的券商APP里买了点基金"),
    ("有人说录了我的视频，要比特币", "asks_transfer", "新闻说比特币又涨了"),
    ("您的征信有问题，需要转账2000元修复费", "asks_transfer", "我需要转账2000元给房东"),
    ("平台的人说你先充个1000试试", "asks_transfer", "我给自己手机充了100话费"),
    ("那个外国人说遗产要交律师费，让我先帮他付", "pay_on_behalf", "我帮他付过一次饭钱，他当场就还我了"),
    ("让我在几个借贷app把额度借出来转到清零账户", "asks_borrow_loan", "我在银行办了张信用卡，额度两万"),
    ("去开几张电话卡，寄到我们这里，每张给你五百", "hands_over_card", "招行新卡七天左右寄到家"),
    ("对方说交5000就删除视频", "pays_compensation", "手机里的视频我自己删了"),
    ("老师说再转账充钱就能翻本", "unfreeze_fee", "我再也不玩了"),
    ("有人让他用我的手机扫码领皮肤", "asks_scan_code", "老板当场让我们扫码加了他的新微信"),
    ("航班取消，改签请拨打4001-630-728", "callback", "航班取消了，我在航空公司APP里改签了"),
    ("闺女用陌生号找我要钱", "known_script", "闺女放假回家找我要零花钱"),
    ("儿子说生活费不够，我打视频看到是他本人，才转的", "verified_by_own_call", "对方打视频过来，说是我儿子"),
    ("我打京东客服问退款进度，说三到五个工作日", "own_channel", "京东客服打电话说要给我退款"),
    ("老板在群里说马上给合作方转38万，让我直接打过去", "asks_transfer", "我直接打过去问他了"),
    ("网上兼职，带着银行卡去外地跟他们一起，一天一千", "hands_over_card", "带着银行卡去外地读大学"),
    ("一个新微信加我，头像和名字都是我们老板", "known_script", "老板的微信头像换了张新照片"),
    ("我让他开视频，是他本人，同事也在旁边", "verified_by_own_call", "他让我开视频，说要核实我的身份"),
    ("我找妈借钱，她非要我打视频，打了视频才给转", "verified_by_own_call", "他让我开视频，才给我退款"),
    ("法院打电话说案子执行到钱了，我直接去了法院", "in_person", "平时老板都是当面签字的"),
    ("短信说我车违章了，没有链接，让下载交管12123查询", "points_to_official", "短信说我车违章了，点链接查询"),
    ("银行转账要输短信验证码，我自己给我女儿转的", "own_request", "对方让我把验证码给他，说帮我转"),
    ("她在语音里说：你先给我转一下，到了就还你", "asks_transfer", "我先给他转了一下房租"),
    ("冒充我老公的人发消息让她转五万", "asks_transfer", "我让她转告老师一声"),
    ("短信链接说医保有余额能提现，要填支付宝密码", "asks_credentials", "入职时在公司HR系统里填了工资卡号"),
    ("对方说不给钱就把视频发过去", "pays_compensation", "不给钱就把快递退回去"),
    ("要我给钱，不然发给我儿子", "pays_compensation", "要我给钱买菜，不然晚饭没得吃"),
    ("分期乐让我把额度清零", "asks_borrow_loan", "京东白条我自己在官方app里关了，额度清零"),
    ("陌生人说我被抽中了，只要扫码付1元验证就行", "asks_scan_code", "在超市扫码付了20块买菜"),
    ("网友说她生日，不用买了，直接转钱她自己买", "asks_transfer", "不用买了，家里还有"),
    ("网上的阿姨说要来看他，问他要路费", "asks_transfer", "他自己出的路费来看我们"),
    ("客服说征信修复费交了就能删除不良记录", "known_script", "网上说花钱能修复征信，我不信"),
    ("平台说流水不够不能提现", "unfreeze_fee", "银行流水我自己打印了一份"),
    ("客服直接给我补发了，没要我任何信息", "nothing_asked", "客服要我提供银行卡号"),
    ("孔夫子旧书网上买书，都是平台付款，卖家在平台里发货", "settled_officially", "卖家说不走平台，直接微信付款"),
    ("短信说逾期未处理将冻结账户", "pressure", "信用卡逾期了两天，已经还上了"),
    ("老师在群里说最近有人冒充老师收资料费，请家长一律不要转账", "warning_or_news", "有人冒充老师让家长转资料费"),
    ("我按流程给董事长本人打电话，他说确实有这笔", "verified_by_own_call", "秘书说董事长本人在开会不方便接电话"),
    ("对方说交5000可以删除逾期记录", "known_script", "逾期记录要多久才会消失"),
    ("高端婚恋平台：转账1999元开通会员即可解锁她的联系方式", "asks_transfer", "我转账1999元给女儿交了学费"),
    ("店铺让我扫码，按提示转账验证后退款", "asks_transfer", "退款已经按原路退回了"),
    ("对方说要先买份保险才放款", "asks_transfer", "我在银行柜台买了份保险"),
    ("买家让我点链接登记一下收款银行卡", "asks_credentials", "我去银行登记了一下新手机号"),
    ("客服说支付宝的学生认证不符合新规，要注销", "known_script", "我在学校办了学生认证，买票打折"),
    ("【公安提醒】您名下有涉案资金待核查，请加办案人员微信", "known_script", "派出所民警来小区讲了反诈"),
    ("快递丢了，请添加理赔专员企业微信办理", "contact_hook", "我加了小区物业的微信"),
    ("航班取消，请致电400-xxx-xx88办理改签", "callback", "航班取消了，我在航空公司APP里改签了"),
    ("这里是国家安全局，请按1转接专案组", "callback", "按1楼的门铃没人应"),
    ("通知说今天是最后期限，要我配合操作", "pressure", "这周末有空再说"),
]


@pytest.mark.parametrize("text,eid,near_miss", OTHER_WORDS)
def test_the_same_evidence_in_other_words(text: str, eid: str, near_miss: str) -> None:
    assert eid in find(text), text
    assert eid not in find(near_miss), near_miss


def test_a_lottery_shop_s_tax_question_is_not_a_fee_first_but_a_call_announcing_the_win_is() -> None:
    own = find("刮刮乐刮中一万二，是在福彩站买的，去兑奖说要交税")
    assert {"upfront_fee", "lottery_shop"} <= set(own)
    assert assess(0.9, own, thresholds=LIMITS).risk == "low"
    called = find("我在彩票站买的双色球，有人打电话说中了大奖，请回电并先交税，加微信 abc12345 领取")
    judged = assess(0.9, called, thresholds=LIMITS)
    assert "lottery_shop" in called and "lottery_shop" not in judged.against_ids and judged.risk == "high", judged


@pytest.mark.parametrize("text,signal,near_miss", [
    ("警察让我开视频录口供，还要我共享手机屏幕", "screen_share", "手机屏幕碎了去修"),
    ("中了一台手机，要付运费和保价费", "upfront_fee", "快递到了，运费是我付的"),
    ("二手群有人卖火车票，先收100手续费", "upfront_fee", "我先收到一条短信，说快递到了"),
    ("他让我下载一个叫「金盛国际」的APP", "unknown_app", "我下载了当地人社局官方的APP查社保"),
    ("有人让我在他们app上刷脸认证，说帮忙实名一下，给我200块", "account_lending", "在超市刷脸付了20块钱"),
    ("有个公司招人开对公账户当法人，每月给我工资", "account_lending", "我自己开了个公司，对公账户在工行开的"),
    ("有人收卡，一张给五百", "account_lending", "收到银行卡的扣款短信"),
    ("长期收购闲置QQ号，价高当天结", "account_lending", "我的QQ号用了十年了"),
    ("群通知：需身份证原件办卡人员，每人次补贴1000元", "account_lending", "银行办卡送了一桶油"),
    ("有人收老号，要我把号和密保都给他", "account_lending", "号的密保是我自己设的"),
    ("网上转盘抽中了电脑，要先支付物流费", "upfront_fee", "我支付了这个月的物业费"),
    ("游戏交易网站说提现要开VIP才能提", "upfront_fee", "我开了视频会员看电视剧"),
    ("他说是市局刑侦的，叫我先别挂", "secrecy", "我先挂了，晚点再聊"),
    ("业务员说放款前让我先准备好两千手续费", "upfront_fee", "我先准备好了身份证和户口本"),
    ("客服说你这个月就会上征信", "threat", "信用卡逾期了两天，会上征信吗"),
    ("中奖那边说要先预付运费，到了当面退还", "upfront_fee", "我用预付卡买了点东西"),
    ("首次见面需支付诚意金299元", "upfront_fee", "见面时他很有诚意"),
    ("今天不处理就会影响您和家人的征信记录", "threat", "今天天气不影响出行"),
    ("主播让我加她微信私下买，更便宜", "off_platform", "妹妹当面借钱，我直接微信转她了"),
    ("卖家说走闲鱼太慢，让他直接微信转", "off_platform", "我直接微信转给房东了"),
    ("他发来说：点这个链接领取补贴", "suspicious_link", "这个链接是我自己在官网找到的"),
    ("工作就是用我的支付宝帮他们收款，每笔给提成", "account_lending", "我用支付宝收了朋友还的钱"),
    ("你把银行卡借我用一个月，给你三千租金", "account_lending", "房东让我每月把房租转他卡上，我都租两年了"),
])
def test_red_flags_in_other_words(text: str, signal: str, near_miss: str) -> None:
    assert signal in detect_signals(text), text
    assert signal not in detect_signals(near_miss), near_miss


LIMITS = Thresholds(high=5.0, low=2.5, against=3.0)


def test_assess_money_sent_stays_high() -> None:
    assert assess(0.01, ["in_person", "nothing_asked"], money_sent=True, thresholds=LIMITS).risk == "high"


def test_assess_scam_needs_a_demand_or_a_known_script_not_the_topic() -> None:
    assert assess(0.999, [], thresholds=LIMITS).risk == "medium"
    assert assess(0.999, ["impersonate_official", "pressure"], thresholds=LIMITS).risk == "medium"
    found = assess(0.999, ["safe_account", "impersonate_official"], thresholds=LIMITS)
    assert found.risk == "high" and found.decided_by[0] == "safe_account"
    assert assess(0.999, ["known_script"], thresholds=LIMITS).risk == "high"


def test_assess_strong_against_with_no_demand_is_low() -> None:
    found = assess(0.999, ["in_person"], thresholds=LIMITS)
    assert found.risk == "low" and found.decided_by == ["in_person"]
    assert assess(0.999, ["upfront_fee", "in_person"], thresholds=LIMITS).risk == "medium"  # never high
    assert assess(0.2, [], thresholds=LIMITS).risk == "low"


# Genuine situations that only sound like scams (the kinds of issue 10), with the classifier's
# worst case: the scam topic at full confidence.
LOOKALIKES = [
    ("女儿当面找我借两万块钱付首付，说下个月就还", "impersonate_acquaintance"),
    ("网上认识的男朋友见过好几次面了，也带回家见过我爸妈，他说想一起攒钱买房", "romance"),
    ("ETC是在服务区当面装的，现在收到激活短信，什么都没要，正常吧", "phishing_link"),
    ("村里通报：凡是自称公检法要求转账到安全账户的都是诈骗，大家谨防上当", "impersonate_police"),
    ("淘宝买的衣服退了，退款已经原路退回到我的银行卡了", "fake_customer_service"),
    ("验证码是我自己登录淘宝时申请的，收到了短信", "phishing_link"),
]


@pytest.mark.parametrize("text,scenario", LOOKALIKES)
def test_a_genuine_lookalike_reply_never_says_high_risk(text: str, scenario: str) -> None:
    case = Case(text=text, scenario=scenario, confidence=0.95, scam_probability=0.999, signals=detect_signals(text))
    reply = compose(case)
    body = "\n".join(reply.messages)
    assert risk(case) == "low" and reply.risk == "low"
    assert "高风险" not in body and "未发现明显诈骗特征" in body
    assert "那就是诈骗" in body and "想核实" in body  # what would make it a scam, and how to check
    assert not warrants_group_warning(case, 0.8)


def test_a_high_reply_names_the_evidence_that_decided_it() -> None:
    case = Case(text="【工商银行】您的电子密码器将于次日失效，请登录 http://icbc-e.top 激活", scenario="phishing_link",
                confidence=0.95, scam_probability=0.99, entities=[{"entity": "url", "value": "http://icbc-e.top"}])
    found = assessment(case)
    assert found.risk == "high" and "known_script" in found.decided_by
    body = "\n".join(compose(case).messages)
    assert "高风险" in body and "常见诈骗话术" in body


def test_a_scam_the_resident_asks_how_to_report_gets_the_verdict_and_where_to_report_it() -> None:
    case = Case(text="老家亲戚收到一条假冒银行的短信 说积分兑换现金 我想帮她举报一下 该往哪发",
                scenario="phishing_link", confidence=0.6, scam_probability=0.57)
    assert case.request == "how_to_report" and "known_script" in assessment(case).decisive
    reply = compose(case)
    body = "\n".join(reply.messages)
    assert len(reply.messages) <= 3 and reply.judged
    assert "积分兑换现金" in body and "12321" in body and "96110" in body and "110报警" in body
    plain = compose(Case(text="收到诈骗短信了 我想举报 该往哪发", scenario=NONE, confidence=0.9, scam_probability=0.1))
    assert not plain.judged and "12321" in plain.messages[0]  # nothing to judge: only how to report


def test_an_uncertain_case_asks_the_question_that_settles_it() -> None:
    case = Case(text="刚才有个自称银行的人给我打电话", scenario="fake_customer_service", confidence=0.9,
                scam_probability=0.99)
    reply = compose(case)
    assert reply.risk == "medium"
    assert "需警惕" in reply.messages[0] and "关键看" in "\n".join(reply.messages)


def test_group_warning_only_on_high_risk_with_a_demand() -> None:
    scam = Case(text="有人加我微信说高价收购银行卡和电话卡，一张800块，只要把卡寄过去就行", scenario="card_trafficking",
                confidence=0.95, scam_probability=0.999, signals=["account_lending"])
    text = "我们小区有人在说兼职刷单的事，大家怎么看"
    topic_only = Case(text=text, scenario="task_rebate", confidence=0.95, scam_probability=0.999,
                      signals=detect_signals(text))
    assert warrants_group_warning(scam, 0.8)
    assert not warrants_group_warning(topic_only, 0.8)


@pytest.mark.parametrize("text", [
    "客服说我在旗舰店买的衣服有质量问题，要我共享屏幕办理退款",
    "说我在游戏内商城买的皮肤异常，要先交500保证金才能解冻",
])
def test_where_the_resident_bought_protects_nothing_once_something_is_asked(text: str) -> None:
    """Scammers name the shop the resident used; the demand explains that fact away (``cancelled_by``)."""
    found = find(text, signals=None)
    assert "settled_officially" in found
    judged = assess(0.9, found, thresholds=Thresholds(high=2.5, low=1.0, against=2.5))
    assert "settled_officially" not in judged.against_ids and judged.risk == "high", judged


def test_a_request_face_to_face_or_checked_on_the_usual_number_is_not_a_stranger_s() -> None:
    """In person, or verified by calling the number the resident always had, explains away "帮我付一下"."""
    for text in ("同事就坐我旁边，让我帮他付一下外卖，回头转我",
                 "表哥微信让我帮他付一下房租，我打他原来的号码问了，确实是他本人发的"):
        found = find(text, signals=None)
        judged = assess(0.95, found, thresholds=Thresholds(high=2.5, low=1.0, against=2.5))
        assert "pay_on_behalf" in found and "pay_on_behalf" not in judged.for_ids, (text, judged)
        assert judged.risk == "low", (text, judged)
    stranger = find("新加的微信说是表哥，让我帮他付一下房租", signals=None)
    assert assess(0.95, stranger, thresholds=Thresholds(high=2.5, low=1.0, against=2.5)).risk == "high"


def test_a_courier_at_the_door_is_not_the_protection_of_meeting_in_person() -> None:
    text = "叫我把卡上的钱取出来交给来家里的便衣"
    found = find(text, signals=[])
    assert {"asks_cash_courier", "in_person"} <= set(found)
    assert assess(0.99, found, thresholds=LIMITS).risk == "high"


def test_a_check_that_found_the_impostor_protects_nothing() -> None:
    """The teller had her call the nephew's usual number and he was at work: the check found the fraud."""
    text = "柜台记录：阿姨要给陌生账户汇五万，说侄子出车祸要钱，我们让她打侄子原来的号码核实，结果侄子好好的在上班"
    found = find(text, signals=[])
    assert {"check_found_impostor", "verified_by_own_call"} <= set(found)
    verdict = assess(0.99, found, thresholds=LIMITS)
    assert "verified_by_own_call" not in verdict.against_ids and "check_found_impostor" in verdict.for_ids
    assert verdict.risk != "low"


def test_a_police_bulletin_retelling_a_case_quotes_the_demands_it_does_not_make_them() -> None:
    bulletin = "近日，我市一名退休干部接到自称公安部的电话，要求其将资金转入安全账户，先后转账60万元"
    found = find(bulletin, signals=detect_signals(bulletin))
    assert "case_bulletin" in found
    assert assess(0.95, found, thresholds=LIMITS).risk == "low"
    imitation = "近日，我市一名市民领到补贴，点击 http://bt-gov.top 领取"
    assert assess(0.95, find(imitation, signals=detect_signals(imitation, has_link=True)),
                  thresholds=LIMITS).risk != "low"


def test_classify_reports_none_for_a_genuine_situation_but_keeps_the_resemblance() -> None:
    from core.verdict import reported_scenario

    text = "女儿当面找我借两万块钱付首付，说下个月就还"
    genuine = Case(text=text, scenario="impersonate_acquaintance", confidence=0.9, scam_probability=0.99)
    assert reported_scenario(genuine) == "none" and genuine.scenario == "impersonate_acquaintance"
    question = Case(text="什么是杀猪盘", scenario="romance", confidence=0.9, scam_probability=0.99)
    assert reported_scenario(question) == "romance"  # a question about a scam keeps its scenario
    for text, scenario in (("刷单为什么全是骗人的", "task_rebate"), ("淘宝客服主动打电话来退款的 都是骗子吗",
                                                               "fake_customer_service")):
        asked = Case(text=text, scenario=scenario, confidence=0.95, scam_probability=0.97)
        assert asked.knowledge_question and assessment(asked).risk == "low" and reported_scenario(asked) == scenario
    sent = Case(text="当面给了他两万", scenario="romance", confidence=0.9, scam_probability=0.99, money_sent=True)
    assert reported_scenario(sent) == "romance"


def test_classify_names_the_nearest_scam_when_a_demand_outweighs_the_classifier_s_none() -> None:
    """The reported scenario agrees with the risk: a demand the classifier's ``none`` did not see still
    makes the message a scam, named by the likeliest scam scenario; without one it stays ``none``."""
    from core.verdict import reported_scenario

    demand = Case(text="他说是我外甥，要我打一万块钱给他，急用", scenario="none", confidence=0.6,
                  scam_probability=0.4, nearest_scam="impersonate_acquaintance")
    assert assessment(demand).risk != "low" and reported_scenario(demand) == "impersonate_acquaintance"
    gone = Case(text="钱已经转给卖狗的人了，人找不到了", scenario="none", confidence=0.6, scam_probability=0.4,
                money_sent=True, nearest_scam="fake_shopping")
    assert reported_scenario(gone) == "fake_shopping"
    hook = Case(text="【内参】明日涨停标的已出，回复1获取，预期收益30%以上", scenario="none", confidence=0.5,
                scam_probability=0.6, nearest_scam="fake_investment")
    assert assessment(hook).risk == "medium" and reported_scenario(hook) == "fake_investment"
    plain = Case(text="手机欠费了还能收短信吗", scenario="none", confidence=0.6, scam_probability=0.4,
                 nearest_scam="phishing_link")
    assert reported_scenario(plain) == "none"


def test_told_to_hide_it_from_the_teller_the_counter_protects_nothing() -> None:
    """A caller who sends the resident to the counter and says not to tell the teller planned that visit."""
    text = "刘警官说案件进入资金核查，让我到银行柜台开通网银，切勿向柜员透露任何信息"
    found = find(text, signals=None)
    assert {"secrecy", "in_person"} <= set(found)
    judged = assess(0.5, found, thresholds=LIMITS)
    assert "in_person" not in judged.against_ids and judged.risk != "low", judged


def test_a_question_that_names_a_scam_script_is_not_a_scam_happening() -> None:
    """"怎么教孩子防注销校园贷的骗局" names the script; nobody used it on the resident."""
    for text in ("孩子要去外地上大学了，怎么教她防骗，特别是冒充官方注销校园贷那种", "什么是注销校园贷诈骗"):
        case = Case(text=text, scenario="credit_repair", confidence=0.95, scam_probability=0.97)
        assert case.knowledge_question and "known_script" in case.evidence
        assert risk(case) == "low", text


def test_facts_that_outweigh_a_request_make_classify_say_none() -> None:
    """Checked on the number he always had and met the same evening: the request was his own."""
    from core.verdict import reported_scenario

    text = "我弟qq上让我转钱，我拨了他用了十几年的那个老号码，他接了说是他本人，晚上还当面把借条给我了"
    case = Case(text=text, scenario="impersonate_acquaintance", confidence=0.9, scam_probability=0.9)
    found = assessment(case)
    assert found.risk == "low" and found.against_ids and reported_scenario(case, found) == "none"


def test_a_worry_for_family_is_not_a_scam_but_a_demand_told_about_them_is() -> None:
    """"怎么提醒我老公别被假投资骗了": nobody asked anything of anyone; "让她先转钱，我怎么劝她": a scam is
    happening to her, and the worry protects nothing (``cancelled_by``)."""
    from core.verdict import reported_scenario

    worry = Case(text="我老公天天刷股票群，我怎么提醒他别被假投资骗了", scenario="fake_investment",
                 confidence=0.95, scam_probability=0.98)
    found = assessment(worry)
    assert found.risk == "low" and found.against_ids == ["protects_family"]
    assert reported_scenario(worry, found) == "none"
    happening = Case(text="我妈在群里跟老师炒股，老师让她先转钱开户，我怎么提醒她别被骗", scenario="fake_investment",
                     confidence=0.95, scam_probability=0.98)
    found = assessment(happening)
    assert "protects_family" not in found.against_ids and found.risk != "low"


def test_told_not_to_believe_others_is_the_script_not_a_warning() -> None:
    """"别信" said to the resident (他让我别信别人) isolates them; only "大家别信" is a warning."""
    assert "says_it_is_fraud" not in find("客服提醒我别上当，然后让我下载app")
    assert "says_it_is_fraud" in find("大家别信这种短信")


@pytest.mark.parametrize("text,shown", [
    ("相亲网站上认识的，我俩都领证了，他说婚后一起买房", True),
    ("我们同居两年了", True),
    ("网恋对象说等我们结婚了一起还，先转我五万", False),
])
def test_married_or_living_together_is_meeting_in_person_a_promise_to_marry_is_not(text: str, shown: bool) -> None:
    assert ("in_person" in find(text)) is shown


# Mined from the scammers' own texts (tests/data/script_validation.csv), the forwarded and pasted validation sets and
# the training examples that cross-validation reported as none: each phrasing found, and its near miss not.
SCRIPT_PHRASINGS = [
    # the middle of a script, before the demand (the promises that talk a doubting resident round)
    ("放心，我们就是用来跑一下流水，钱都是干净的，出不了事", "reassurance", True),
    ("这个月店里流水不错", "reassurance", False),
    ("您这种情况我们可以帮您包装一下资料，包过", "reassurance", True),
    ("二手车包过户，手续齐全", "reassurance", False),
    ("你填的收款卡号多了一位，资金被冻结了，需要处理一下", "known_script", True),
    ("卡号填错了，我重新填了一遍", "known_script", False),
    ("弟弟，你得先帮我做个任务，用你妈妈手机打开支付宝", "known_script", True),
    ("我用手机给我妈妈挂了个号", "known_script", False),
    ("识相的话转五万，以后再也不打扰你", "pays_compensation", True),
    ("我手上有你的照片和聊天记录", "pays_compensation", True),
    ("我手机里有你的照片，上次旅游拍的", "pays_compensation", False),
    ("讲座上的专家说吃他们的药三个疗程就能停胰岛素", "known_script", True),
    ("医生说血糖控制好了可以慢慢减胰岛素", "known_script", False),
    ("九十九块三日游，导游说不买不让上车", "known_script", True),
    ("【闲鱼】您的宝贝已被买家拍下，请在48小时内发货", "known_script", False),
    ("客服说商品有质量问题，要赔我三倍的钱", "known_script", True),
    # demands in words the rules missed
    ("各位家长请转账至下列个人账户并备注孩子姓名", "asks_transfer", True),
    ("老同学说礼金转这张卡就行", "asks_transfer", True),
    ("工资转这张卡里了", "asks_transfer", False),
    ("刷到第五单要我充2万", "asks_transfer", True),
    ("我给手机充了50块话费", "asks_transfer", False),
    ("老板说钱到我卡上我就去取出来给他，每次给我几百", "relays_money", True),
    ("工资到我卡上了", "relays_money", False),
    ("她说订单卡住了，要再付一次才能解冻", "unfreeze_fee", True),
    ("我再付一次房租就到期了", "unfreeze_fee", False),
    ("体育老师说统一订校服，麻烦扫下这个收款码", "asks_scan_code", True),
    ("没有担保人的话交两千他们帮我找", "upfront_fee", True),
    ("我没交两千让他们帮我找", "upfront_fee", False),
    # the real warning's words, and facts the resident saw
    ("这里是反诈中心，请您不要按对方要求转账，也不要下载任何软件", "says_it_is_fraud", True),
    ("对方要求我按他的指示操作", "says_it_is_fraud", False),
    ("我们是96110，想问一下对方是不是让您转到安全账户", "says_it_is_fraud", True),
    ("手机上的验证码别告诉别人，我下午回来帮你交医保", "says_it_is_fraud", True),
    ("把验证码发我，别告诉别人", "says_it_is_fraud", False),
    ("把验证码发我，别告诉别人", "secrecy", True),
    ("学校不会通过微信群收取任何费用，如有人冒充班主任收费请电话核实", "says_it_is_fraud", True),
    ("村支书说他不会找大家借钱", "says_it_is_fraud", True),
    ("【京东】您的账户正在绑定新手机号，验证码319274，如非本人操作请忽略并修改密码", "code_for_you", True),
    ("您的密码已修改成功。如非本人操作，请立即修改密码", "points_to_official", True),
    ("【某银行】您尾号5540的账户于07月01日入账2980元，摘要：养老金", "high_return", False),
    ("群里说日入三千不是梦", "high_return", True),
    ("二姨在饭桌上说她儿子要周转，让我拿五万", "in_person", True),
    ("我侄子找我借钱，我让他开视频，他开了，是他本人", "verified_by_own_call", True),
    ("他让我开视频，我开了", "verified_by_own_call", False),
    # messages forwarded as received (tests/data/forwarded_validation.csv): the pressure after a refusal, the
    # code asked for without its name, the bank's and the payment app's own warnings
    ("你要是今天不追加资金，账户就会被强平", "threat", True),
    ("您不配合取消的话，我们会把您的记录上报央行征信中心", "threat", True),
    ("这个月的征信报告我自己查过了", "threat", False),
    ("这个事情属于国家机密，对谁都不能说", "secrecy", True),
    ("柜员问起来就说是家里装修用的", "secrecy", True),
    ("你把手机上刚收到的那个六位数报给我一下，我给你登记理赔", "verification_code", True),
    ("快递柜取件码是六位数", "verification_code", False),
    ("领奖截止今晚8点，赶紧把手续费交了吧", "upfront_fee", True),
    ("现在交599就永久保障", "upfront_fee", True),
    ("明天是我生日，你直接转我就好我自己去买", "asks_transfer", True),
    ("【建设银行】您的信用卡额度已调升。本短信不含链接，请勿轻信他人要求转账。", "says_it_is_fraud", True),
    ("【支付宝】您正在向陌生账户转账，对方可能为诈骗账户，如被骗请立即报警。", "says_it_is_fraud", True),
    ("该用户可能存在风险，请确认对方身份后再转账", "says_it_is_fraud", True),
    ("【携程旅行】您关注的机票降价了，查看 m.ctrip.com 回T退订", "unofficial_link", False),
    # checked in the resident's own words (tests/data/pasted_question_validation.csv)
    ("儿子微信说给他转500生活费，我打了语音过去是他本人", "verified_by_own_call", True),
    ("老同学借钱，我打电话过去是她本人", "verified_by_own_call", True),
    ("他让我打电话过去确认是他本人", "verified_by_own_call", False),
    ("对门邻居让我帮她把菜钱先付一下，她就住对门", "in_person", True),
    ("同事让我帮他垫一下午饭钱，我们坐一个办公室", "in_person", True),
    ("他说他在国外，离我很远", "in_person", False),
    # a case relayed by a teller, a grid worker or a relative (tests/data/relayed_validation.csv): the writer's
    # counter, the question asked and the answer "no", and the writer's own judgement are not the resident's facts
    ("村主任问他见过面没 他说还没", "in_person", False),
    ("村主任问他见过面没 他说还没", "never_met", True),
    ("你们见过面吗", "in_person", False),
    ("见过面了，还来过我家吃饭", "in_person", True),
    ("那些人天天来家里闹", "in_person", False),
    ("会计当面去领导办公室问了 领导说没发过", "in_person", False),
    ("客户在柜台要给一个外地账户转三万", "in_person", False),
    ("我在柜台办的转账", "in_person", True),
    ("我跟他说这种都是骗人的 他还是要交", "says_it_is_fraud", False),
    ("我们告诉他这就是诈骗", "says_it_is_fraud", False),
    ("新闻上说这种都是骗人的", "says_it_is_fraud", True),
    ("凡是要求转到安全账户的都是诈骗", "says_it_is_fraud", True),
    ("会计当面去领导办公室问了 领导说没发过", "check_found_impostor", True),
    ("我们劝他先当面看车，他同意不汇了", "in_person", False),
    ("柜台记录：一位阿姨要汇款到国外", "in_person", False),
]


@pytest.mark.parametrize("text,eid,shown", [
    ("你的裸照已经在我手里，12小时内不打款，我就发到你们公司群里", "pays_compensation", True),
    ("他不还钱我就发朋友圈曝光他", "pays_compensation", False),
    ("低价充值点券，官方渠道，转账后报游戏ID直接到账", "asks_transfer", True),
    ("我转账后他就把我拉黑了", "asks_transfer", False),
    ("六合彩特码，每期必中，要的回1", "callback", True),
    ("老公微信让我给他转500，我打他电话是他本人接的", "verified_by_own_call", True),
    ("他让我打他给的号码核实一下", "verified_by_own_call", False),
    ("听说有人冒充警察打电话，真警察会让人转账吗", "says_it_is_fraud", True),
    ("厂里开安全会，讲了刷单返利全是骗人的", "says_it_is_fraud", True),
    ("我奶奶一个人住，怎么防她被电话诈骗", "protects_family", True),
    ("【12381】您近期接触的号码涉嫌诈骗，请勿相信任何要求转账、共享屏幕的要求", "says_it_is_fraud", True),
    ("他说不要相信任何人，只相信他", "says_it_is_fraud", False),
    ("他说不要相信任何人，只相信他", "warning_or_news", False),
    ("他说不要相信任何人，只相信他", "secrecy", True),
    ("京东客服叫我别信别人打来要我操作的电话", "secrecy", False),
    ("现在他们又打电话叫我再投十万", "asks_transfer", True),
    ("领导叫我存一下这个号", "asks_transfer", False),
    ("说投得多返得多，月底前不投就错过了", "pressure", True),
    ("说投得多返得多，月底前不投就错过了", "high_return", True),
    ("周末观影优惠，名额有限先到先得，拒收请回复R", "pressure", False),
    ("讲座上说投资养老项目，还送鸡蛋送米", "known_script", True),
    ("外婆喜欢去听免费讲座领鸡蛋，我怕她被卖保健品的忽悠", "known_script", False),
    ("去听了个讲座，说投资一个区块链项目", "warning_or_news", False),
    ("刷到一个视频，讲冒充客服退款的套路", "warning_or_news", True),
    ("那个警察讲：这个电话你不能挂，一挂就视为畏罪潜逃", "warning_or_news", False),
    ("社区民警来小区讲防盗防骗", "warning_or_news", True),
    ("最后让她把银行卡里的钱转到一个账户里等退款", "asks_transfer", True),
    ("她自己把银行卡里的钱转到余额宝了", "asks_transfer", False),
    # blackmail with a recording, in the blackmailer's words
    ("你要是不转钱 你老婆孩子单位同事明天都能看到你的精彩表演", "known_script", True),
    ("再不打钱 视频马上群发给你的同事和家人", "known_script", True),
    ("最后给你一次机会，五万块买你的名声", "known_script", True),
    ("同事发给我一个视频 挺好笑的", "known_script", False),
    # a question is not the message saying it is a scam, nor a warning that they never ask
    ("淘宝客服主动打电话来退款的 都是骗子吗", "says_it_is_fraud", False),
    ("刷单为什么全是骗人的", "says_it_is_fraud", False),
    ("警察会不会让老百姓往安全账户里转钱", "says_it_is_fraud", False),
    ("警察不会让老百姓往安全账户里转钱", "says_it_is_fraud", True),
    ("任何机构和个人声称可以“征信修复”“征信洗白”均不可信", "says_it_is_fraud", True),
    ("要是有人让俺转钱俺不知到真假", "asks_transfer", False),
    ("又问是不是有人打电话让我转账", "asks_transfer", False),
    # the platform's account is not the resident's own bank or brokerage
    ("他说包赢，现在我账户里有两万，但提不出来", "settled_officially", False),
    ("这只基金是我在自己的证券账户里买的", "settled_officially", True),
    ("公众号说我获得了免费旅游，要先交押金", "warning_or_news", False),
    ("村头广播讲了半个钟头，说有人冒充公安局", "warning_or_news", True),
    ("客服说您的账户被判定为恶意套利，要交保证金", "warning_or_news", False),
    # the scammer's channel or the scammer's errand is not the resident's protection
    ("我打了短信上的客服电话，对方让我转500", "own_channel", False),
    ("我自己打了卡背面的电话问的", "own_channel", True),
    ("然后让我在他们的APP里开户入金", "own_channel", False),
    ("我在一个APP里炒出了盈利", "own_channel", False),
    ("我没在京东APP里看到这个额度", "own_channel", False),
    ("我自己在京东APP里点的申请退货", "own_channel", True),
    ("客服说放款前要我打开手机银行截图余额给他看", "points_to_official", False),
    ("请登录手机银行查询", "points_to_official", True),
    ("认识半年一次没见过，每次说见面都有事", "in_person", False),
    ("每个周末都来我家吃饭", "in_person", True),
    ("有人说帮他去银行柜台把卡里的钱取出来，取一次给两百", "in_person", False),
    ("款对不上，去银行柜台打了流水", "in_person", True),
    ("不配合就来家里抓人", "in_person", False),
    ("可我明明没收到钱啊", "nothing_asked", False),
    ("有个客服说我没交保证金，买家付的钱被冻结了", "nothing_asked", False),
    ("他们从没收过我一分钱", "nothing_asked", True),
    ("加了以后叫我把登录的验证码发他", "own_request", False),
    ("验证码是我自己登录申请的", "own_request", True),
    ("头像名字都对得上，老板在群里让我转账", "settled_officially", False),
    ("是我在超市刷的，金额对得上", "settled_officially", True),
    ("对方：您的额度已到账，请在APP里提现", "money_arrived", False),
    ("我儿子说别信", "says_it_is_fraud", False),
    ("退票手续费请转到我的账户", "asks_transfer", True),
    ("然后让我去柜台办大额转账", "asks_transfer", True),
    ("请于今日致电0755-83619205解除限制", "callback", True),
    ("加微信 jz****2020 领取任务", "contact_hook", True),
    # met in the family, the transcripts and the chats residents paste
    ("我用微信视频教他怎么交电费 没用什么共享屏幕的软件", "screen_share", False),
    ("我给家里在网上订的年货，货到付款，东西送来了才付的钱", "settled_officially", True),
    ("让他拿卡去ATM上操作解冻", "asks_transfer", True),
    ("还一直问他旁边有没有人", "secrecy", True),
    ("有人找她去营业厅办几张电话卡，给她好处费", "account_lending", True),
    ("有人找她去营业厅办几张电话卡，给她好处费", "in_person", False),
    ("儿子说老师让交班费，我打了班主任电话说是家委会统一收的", "verified_by_own_call", True),
    ("你能不能先借我两万 等这批货卖了我就飞过去找你", "asks_to_lend", True),
    ("您在我们店买的奶粉有质量问题 给您退两倍货款 加一下我们店长的企业微信", "known_script", True),
    ("您在我们店买的奶粉有质量问题 给您退两倍货款 加一下我们店长的企业微信", "contact_hook", True),
    ("恭喜您完成了前两个点赞任务，佣金已到账，接下来投入2000元参与电影票房，明天返还2600元", "advance_payment", True),
    ("理财顾问：这个产品不在银行柜台卖，年化12%，保本", "in_person", False),
    ("【抖音】验证码4421，用于手机号登录，5分钟内有效，泄露有风险。", "code_for_you", True),
    ("【抖音】验证码4421，用于手机号登录，5分钟内有效，泄露有风险。", "pressure", False),
    ("闲鱼消息：买家已付款¥120，请在48小时内发货", "pressure", False),
    ("闲鱼通知：交易金额¥350.00已转入你的闲鱼账户余额", "money_arrived", True),
    ("【12381】近期冒充领导、熟人加好友借钱的诈骗高发，请务必当面或打原号码核实", "says_it_is_fraud", True),
    ("支付宝不会主动打电话要你转账", "says_it_is_fraud", True),
    ("我不会弄 他说帮我弄 要我把银行卡号和验证码给他", "says_it_is_fraud", False),
    ("那个卖茶叶的不是我，我号被盗了，大家别买", "says_it_is_fraud", True),
    ("骗子让我千万别给家里人说", "says_it_is_fraud", False),
    ("饭店打电话确认我订的包厢", "says_it_is_fraud", False),
    ("妈：你给我打个视频 （视频通话 03:12）妈：好了是你", "verified_by_own_call", True),
    # working life: the shop, the finance clerk, the market stall
    ("买家私聊说付了两次 让我支付宝退他一次 发了付款截图", "fake_payment", True),
    ("客人给我看付款截图就走了，钱没到账", "fake_payment", True),
    ("包子铺 一个人拿手机晃一哈说付了 走得飞快 后来看收款根本没到", "fake_payment", True),
    ("印刷店接了个婚庆公司的单，对方先付了一半定金，我看到账了才开机印", "upfront_fee", False),
    ("淘宝店铺保证金被冻结了一千 千牛后台写着是因为有个售后纠纷", "platform_backend", True),
    ("客户微信说换账户了 真的假的", "account_change", True),
    ("一个说是环保局的 讲我们小厂排污超标 给他转八千就不上报", "asks_transfer", True),
    ("卫生监督所来了两个人查消毒记录，开着执法记录仪", "in_person", True),
    ("有人在店里买了三千多的茶叶", "in_person", False),
    ("12381发短信给我们商户 说近期有冒充供应商改收款账户的骗局 叫大家注意", "warning_or_news", True),
    ("店里伙计手机上有个赌球APP 天天说要回本", "known_script", True),
    ("一个人来店里说借我的POS机刷几笔 给我百分之三的好处费", "account_lending", True),
    ("有人想借我的商户码 钱从我这过一下 每万元给我一百", "account_lending", True),
    ("新号码说是食堂主任 让我先替他给另一家供货商打款", "asks_transfer", True),
    ("厂长换号了让我垫两万", "advance_payment", True),
    ("前两单返了 第三单要三千", "advance_payment", True),
    ("对方说帮我店铺补单 但要我先在他的app里充值", "asks_transfer", True),
    ("收到邮件说电子税务局有退税 要登录一个网站填银行卡", "asks_credentials", True),
    ("我教婆婆点开红包就行 不用输密码", "asks_credentials", False),
    ("股票老师让下app打新股", "unknown_app", True),
    ("网恋对象让我在她推荐的平台上投资", "their_platform", True),
    ("我要在一个正规平台上开户", "their_platform", False),
    ("有人卖便宜的骑手电动车 先付了定金 又要运费", "upfront_fee", True),
    ("在群里找的面粉批发，比市场低三成 让先全款", "too_cheap", True),
    ("班会讲了网赌的危害", "known_script", False),
    ("对方说只要再交两万就能把之前的钱都提出来", "unfreeze_fee", True),
    ("导师说最后一单做完就能提现 要再充八千", "unfreeze_fee", True),
    ("一个陌生人叫我去银行开个户，然后把卡、密码、手机号一起交给他", "hands_over_card", True),
    ("游戏里认识的朋友要卖我一个满级号，让我去他说的平台付款", "their_platform", True),
    ("有个软件叫我打开通讯录那个权限", "known_script", True),
    ("帮我爸把手机里的通讯录权限关了", "known_script", False),
    ("客服说要交维护费才能恢复", "asks_transfer", True),
    ("群里老师要他把养老钱都转进去", "asks_transfer", True),
    ("对方说有人拿视频勒索，要五万封口费", "pays_compensation", True),
    ("班级群里老师说统一买校服，让大家扫码付款", "asks_scan_code", True),
    ("刮中二等奖，对方说领奖还要寄身份证复印件和银行卡复印件", "asks_credentials", True),
    ("补办手机卡又要身份证原件", "asks_credentials", False),
    ("入职公司让填银行卡号发工资", "asks_credentials", False),
    ("警察要我把卡号和密码告诉他们", "asks_credentials", True),
    ("我先打了我舅家的座机问，他说是借去给外婆看病的", "verified_by_own_call", True),
    ("学校的信里说 任何要求在群里扫码交钱的都是假的", "says_it_is_fraud", True),
    # told by voice input, and by young people
    ("小区门口有人办健康讲座 天天送鸡蛋 最后卖一种保健品 说能治高血压糖尿病 还能把降压药停了", "known_script", True),
    ("听讲座的会员费八千 交了保健品打折 交不交啊", "known_script", True),
    ("外婆喜欢去听讲座领鸡蛋 我怕她被卖保健品的忽悠", "known_script", False),
    ("养生合作社 说入会交三万 每个月返三千", "high_return", True),
    ("买了个养老基金 一年百分之二十 这个月说提现得交百分之十的手续费", "upfront_fee", True),
    ("我村里来了个人 说帮我办个手机卡 送我一桶油 办完了卡他拿走了", "hands_over_card", True),
    ("我村里来了个人 说帮我办个手机卡", "in_person", False),
    ("有个人加我说是我侄女 我让她发个语音 又给她爸打电话 确实是她", "verified_by_own_call", True),
    ("12381的短信说我可能正在遭遇诈骗 叫我别往外打钱", "asks_transfer", False),
    ("12381的短信说我可能正在遭遇诈骗 叫我别往外打钱", "says_it_is_fraud", True),
    ("村委会广播：有人上门卖保健品，说吃了能治百病，大家不要信", "says_it_is_fraud", True),
    ("跟朋友出去玩车费我先垫的 回来她们vx转我", "advance_payment", False),
    ("有人说是我老乡出事了 叫我先垫上", "advance_payment", True),
    ("班主任说学费走学校缴费系统 不会让私人收款 我妈转给我问真假", "relays_money", False),
    # the text a screenshot's OCR returns
    ("支付成功 ¥36.00 收款方 **便利店 付款方式 零钱 交易单号 4200001xxxx 完成", "settled_officially", True),
    ("淘宝 我的订单 交易成功 ¥259.00 卖家已发货 查看物流 确认收货", "settled_officially", True),
    ("闲鱼 宝贝 二手iPad 走闲鱼验货宝 钱在平台那里", "settled_officially", True),
    ("唯品会 订单详情 温馨提示 如有自称客服来电要求您转账退款 请直接挂断", "says_it_is_fraud", True),
    ("本公司不会要求您预先支付任何费用", "says_it_is_fraud", True),
    ("国家反诈中心 预警 您正在访问的网站 疑似涉诈网站 已为您拦截", "says_it_is_fraud", True),
    ("退款原路返回 不需要您提供任何验证码哦", "nothing_asked", True),
    ("怎么跟店员讲清楚不要给陌生人转账", "protects_family", True),
    ("订餐的说订一百份快餐 另外让我帮他买二十条烟 从他给的烟贩那拿 钱我先出", "known_script", True),
    ("订餐的说订一百份快餐 另外让我帮他买二十条烟 从他给的烟贩那拿 钱我先出", "advance_payment", True),
    ("市监局来电话说我网店被投诉，罚五万，转账给他们可以从轻", "asks_transfer", True),
    ("市监局来电话说我网店被投诉，罚五万，转账给他们可以从轻", "impersonate_official", True),
    ("电话说是市场监管的 要交钱办加急 加他私人微信", "contact_hook", True),
    ("雇主出国了，工资让她弟弟转给我", "asks_transfer", False),
    ("千牛消息里说类目保证金要补到一万 我在千牛的保证金页面自己交的", "own_channel", True),
    ("直播卖山货，有个顾客想加我微信私下买，我让他还是在店里下单", "settled_officially", True),
    ("快递丢件 我在平台上发起理赔 快递公司赔的钱进了店铺账户", "money_arrived", True),
    ("进货走1688付款", "settled_officially", True),
    ("银行的人来宣传 不要出借对公账户 说是断卡行动", "warning_or_news", True),
    ("公安局的民警上门说我们店的收款码被人冒用过 叫我换个码", "in_person", True),
    ("有人说要派人上门取现金", "in_person", False),
    ("货车司机收到短信说ETC要重新激活 我点了还填了卡号和验证码", "own_request", False),
] + SCRIPT_PHRASINGS)
def test_scammers_own_words_and_residents_own_facts(text: str, eid: str, shown: bool) -> None:
    """A demand in the scammer's own voice (不打款就发, 转账后报ID) and the resident's facts in their words."""
    assert (eid in find(text)) is shown


def test_a_demand_from_someone_checked_on_his_own_phone_is_his_own() -> None:
    """"老板在群里让我付款", then the number the resident always had: the identity a scam hides was checked."""
    text = "老板在微信群里让我转账付货款，我打了老板原来存的手机号，是他本人，他说是真的"
    found = assessment(Case(text=text, scenario="impersonate_acquaintance", confidence=0.9, scam_probability=0.95))
    assert "asks_transfer" not in found.for_ids and found.risk == "low"


def test_nothing_pointing_to_a_scam_is_not_reported_as_one() -> None:
    """A scam scenario first in the ranking, but P(scam) under one half, no evidence and low risk: ``none``
    (the resemblance stays in ``case.scenario``); the same probability with a demand keeps the scenario."""
    from core.verdict import reported_scenario

    bought = Case(text="孔夫子旧书网上买书，都是平台付款，卖家在平台里发货", scenario="fake_shopping",
                  confidence=0.4, scam_probability=0.44)
    assert assessment(bought).risk == "low" and reported_scenario(bought) == "none"
    asked = Case(text="网友说她生日，不用买了，直接转钱她自己买", scenario="romance", confidence=0.4,
                 scam_probability=0.44)
    assert reported_scenario(asked) == "romance"
    sure = Case(text="杀猪盘到底是什么", scenario="romance", confidence=0.9, scam_probability=0.97)
    assert reported_scenario(sure) == "romance"  # a question about a scam keeps its topic


def test_a_guarantee_page_sent_as_a_link_protects_nothing() -> None:
    """Game and shopping scams send a fake "平台担保" page: with a link, where it was bought stops counting."""
    text = "买家说走的是平台担保交易，发来一个链接让我登录收款"
    found = find(text, entities=[{"entity": "url", "value": "http://dbjy-pay.top"}])
    judged = assess(0.8, found, thresholds=LIMITS)
    assert "settled_officially" in found and "settled_officially" not in judged.against_ids, judged


def test_an_official_app_named_beside_an_unofficial_link_protects_nothing() -> None:
    """"登录手机银行查询 icbc-vip.top": the link it gives is not the official channel it names."""
    text = "【工商银行】您的积分即将清零，请登录手机银行查询 icbc-vip.top"
    found = find(text, entities=[{"entity": "url", "value": "icbc-vip.top"}], is_official_domain=lambda _: False)
    assert {"points_to_official", "unofficial_link"} <= set(found)
    assert "points_to_official" not in assess(0.5, found, thresholds=LIMITS).against_ids


def test_a_platform_s_own_short_link_is_not_a_stranger_s_link() -> None:
    """【京东】…3.cn/xK7pQ: the NLU flags every url; one that opens an official domain, in words that do not push a
    click, is the platform's own (an unofficial one, or 点击链接 in the words, stays a red flag)."""
    from core.report_lines import official_domain
    own = find("【京东】年货节开启，家电至高直降1000元，3.cn/xK7pQ 抢购，回复T退订", ["suspicious_link"],
               [{"entity": "url", "value": "3.cn/xK7pQ"}], None, official_domain)
    assert "suspicious_link" not in own and "official_contact" in own
    fake = find("【京东】年货节开启，jd-vip.top 抢购", ["suspicious_link"],
                [{"entity": "url", "value": "jd-vip.top"}], None, official_domain)
    assert {"suspicious_link", "unofficial_link"} <= set(fake)
    pushed = find("点击链接领取补贴 3.cn/xK7pQ", ["suspicious_link"], [{"entity": "url", "value": "3.cn/xK7pQ"}],
                  None, official_domain)
    assert "suspicious_link" in pushed


def test_an_account_change_checked_on_the_old_number_or_in_person_is_the_supplier_s_own() -> None:
    """"换了收款账户" by e-mail is the scam that takes a shop's payments; rung back on the number the owner always
    had, or said by the supplier's man at the door, it is the supplier's."""
    mailed = find("供应商发邮件说换了收款账户，让把这批货款付到新账户")
    assert "account_change" in assess(0.9, mailed, thresholds=LIMITS).for_ids
    checked = find("供应商发邮件说换了收款账户，我打了合同上留的他们财务的座机核实，是真的")
    assert "account_change" in checked and "verified_by_own_call" in checked
    assert "account_change" not in assess(0.9, checked, thresholds=LIMITS).for_ids


def test_a_platform_page_protects_nothing_once_the_page_or_the_seller_asks_for_money() -> None:
    """"担保交易" on a page the seller sent is the fake escrow: the demand and the link outweigh the page's words."""
    found = find("闲鱼卖家发给我一个链接说是担保交易页面，让我在里面付款，付完显示资金冻结，要交保证金解冻")
    judged = assess(0.8, found, thresholds=LIMITS)
    assert "settled_officially" in found and "settled_officially" not in judged.against_ids and judged.risk != "low"


def test_the_merchant_backend_explains_a_deposit_only_when_nobody_else_asks() -> None:
    """A deposit deducted with its reason in the shop's own backend is the platform's rule; a "客服" who rings
    about it and wants a WeChat is the fake customer service again."""
    own = find("快手小店说我们发货慢 扣了保证金 后台能看到扣款原因和订单号")
    assert assess(0.6, own, thresholds=LIMITS).risk == "low"
    rung = find("客服打电话说店铺保证金异常，后台能看到冻结记录，要加他微信 kf20240 交保证金解冻")
    judged = assess(0.6, rung, thresholds=LIMITS)
    assert "platform_backend" in rung and "platform_backend" not in judged.against_ids and judged.risk != "low"
