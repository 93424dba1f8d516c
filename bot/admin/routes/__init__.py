"""The admin's pages, one blueprint per area, in the order of the navigation.

``create_app`` registers :data:`BLUEPRINTS`; each module holds the routes of one URL group and
takes what it needs from :mod:`bot.admin.web`.
"""

from __future__ import annotations

from bot.admin.routes import (
    alerts,
    campaign_content,
    campaigns,
    content_pages,
    daily,
    overview,
    publishing,
    review,
    session,
)

BLUEPRINTS = (session.blueprint, overview.blueprint, review.blueprint, daily.blueprint, content_pages.blueprint,
              campaign_content.blueprint, publishing.blueprint, alerts.blueprint, campaigns.blueprint)
