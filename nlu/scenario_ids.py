"""The scenario ids: the contract between the NLU, the actions, the evaluation and the statistics.

From ``shared/reference/scenarios.md``; administrators cannot invent new ones (the admin
rejects an unknown id), because the classifier and the statistics only know these.
"""

SCENARIO_IDS: tuple[str, ...] = (
    "impersonate_police", "task_rebate", "fake_investment", "romance", "fake_loan",
    "fake_customer_service", "credit_repair", "impersonate_acquaintance", "game_trade",
    "fake_shopping", "sextortion", "gambling", "phishing_link", "fake_prize", "card_trafficking",
)
NONE_SCENARIO = "none"
