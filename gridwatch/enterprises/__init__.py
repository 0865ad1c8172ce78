"""Enterprises (一码统管), petition batches (交办信访件) and special campaigns (专项行动).

:mod:`gridwatch.enterprises.names` normalises enterprise codes and names into one key per
enterprise; :mod:`gridwatch.enterprises.offenders` finds rebounds at an enterprise and flags the
repeat offenders; :mod:`gridwatch.enterprises.petitions` follows petition batches and their
repeat complaints; :mod:`gridwatch.enterprises.campaigns` tags problems with campaigns and counts
them. Each question takes the supervision context, so a user's scope and the counted rows apply.
See docs/enterprises.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridwatch._lazy import lazy_exports

if TYPE_CHECKING:
    from gridwatch.enterprises._settings import (
        CampaignRule,
        CampaignSettings,
        EnterpriseSettings,
        PetitionSettings,
    )
    from gridwatch.enterprises.campaigns import campaign_table, campaign_tags
    from gridwatch.enterprises.names import enterprise_keys, normalise_code, normalise_name
    from gridwatch.enterprises.offenders import enterprise_rebounds, enterprise_table
    from gridwatch.enterprises.petitions import batch_table, repeat_complaints

__all__ = [
    "CampaignRule",
    "CampaignSettings",
    "EnterpriseSettings",
    "PetitionSettings",
    "batch_table",
    "campaign_table",
    "campaign_tags",
    "enterprise_keys",
    "enterprise_rebounds",
    "enterprise_table",
    "normalise_code",
    "normalise_name",
    "repeat_complaints",
]

# the project file's sections are parsed without importing pandas
__getattr__, __dir__ = lazy_exports(__name__, {
    **{name: "gridwatch.enterprises._settings" for name in (
        "CampaignRule", "CampaignSettings", "EnterpriseSettings", "PetitionSettings")},
    **{name: "gridwatch.enterprises.campaigns" for name in ("campaign_table", "campaign_tags")},
    **{name: "gridwatch.enterprises.names" for name in (
        "enterprise_keys", "normalise_code", "normalise_name")},
    **{name: "gridwatch.enterprises.offenders" for name in (
        "enterprise_rebounds", "enterprise_table")},
    **{name: "gridwatch.enterprises.petitions" for name in ("batch_table",
                                                            "repeat_complaints")},
})
