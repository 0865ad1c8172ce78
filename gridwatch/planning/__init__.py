"""Stage 6: from hotspots to a field plan.

``priority`` (the score of a problem and why), ``sites`` (problems grouped into stops),
``routing`` (team-day routes by OR-Tools against a naive plan), ``plan`` (the whole plan from
the supervision context), ``package`` (the offline field package of each team-day) and
``results`` (the filled checklists brought back into the store). Settings: ``[plan]``
(:mod:`gridwatch.planning.settings`); see docs/planning.md.
"""
