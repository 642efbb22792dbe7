"""Positive calls home as each member of staff's own weekly habit.

Anyone who makes calls nominates a pupil, saying specifically what they did. The
nomination goes to the standing nominations campaign (an ordinary positive campaign,
worked on the desk like any other) for the nominator or a named colleague; siblings
nominated while their family's call is waiting share that one call, every note read
out under its pupil's name. Positive calls are capped among themselves, never by the
welfare cadence (``hub.queues.rules.same_kind_of_call``).

Each member of staff sees their own week (a positive call that reached a family, or
not yet) and their run of school weeks; on the school's chosen afternoon those without
one are reminded. A few days after a call, its caller is asked for a short reflection:
six prompts, private to them, exportable for a CPD portfolio. Other staff see only
whole-school totals.

    nominated = positive.nominate(session, pupil, "Led the assembly on kindness.",
                                  by=teacher, now=utcnow())
    week = positive.my_week(session, teacher, now=utcnow(), zone=zone, calendar=calendar)
"""

from hub.positive.habit import Week, my_week, reminder_due, school_week, week_start
from hub.positive.nominations import (
    NOMINATIONS,
    Nominated,
    callers,
    follow_up_at,
    follow_ups,
    may_nominate,
    nominate,
    nominations_campaign,
    notes_left_after,
    opening_line,
    queue_again,
    read_out,
    search_pupils,
    waiting_notes,
)
from hub.positive.reflections import (
    PROMPTS,
    WORDS_AIM,
    Due,
    Prompt,
    count_words,
    initials,
    mine,
    reflection_for,
    reflections_due,
    save,
    skip,
    words,
)

__all__ = [
    "NOMINATIONS",
    "PROMPTS",
    "WORDS_AIM",
    "Due",
    "Nominated",
    "Prompt",
    "Week",
    "callers",
    "count_words",
    "follow_up_at",
    "follow_ups",
    "initials",
    "may_nominate",
    "mine",
    "my_week",
    "nominate",
    "nominations_campaign",
    "notes_left_after",
    "opening_line",
    "queue_again",
    "read_out",
    "reflection_for",
    "reflections_due",
    "reminder_due",
    "save",
    "school_week",
    "search_pupils",
    "skip",
    "waiting_notes",
    "week_start",
    "words",
]
