"""Every table of the project's store in one MetaData, whatever the caller imported: Alembic's target.

The tables are defined beside the code that uses them (bot.store, bot.alerts.model,
bot.admin.accounts, bot.admin.history), all on :data:`bot.store.metadata`; importing this module
imports them all, so autogenerate and the schema tests compare against the whole store. A module
that adds a table of the store is added here.
"""

from __future__ import annotations

import bot.admin.accounts  # noqa: F401 - admin_credentials, admin_sessions, admin_login_throttle
import bot.admin.history  # noqa: F401 - content_versions
import bot.alerts.model  # noqa: F401 - officers, alerts, alert_outbox, audit_log
import bot.alerts.telegram_flow  # noqa: F401 - telegram_persistence
import bot.campaigns  # noqa: F401 - campaigns, campaign_runs
import bot.daily  # noqa: F401 - daily_runs, early_warnings
import bot.followups  # noqa: F401 - followups, followup_cards
import bot.known  # noqa: F401 - indicators
import bot.new_scripts  # noqa: F401 - new_scripts
import bot.quiz  # noqa: F401 - quiz_answers, quiz_players
import bot.reports  # noqa: F401 - reports, verdict_feedback
import bot.retention  # noqa: F401 - consultation_counts, consultation_days
import bot.scam_library  # noqa: F401 - known_scams
from bot.store import metadata

__all__ = ["metadata"]
