"""Why the dial guard refuses a dial: the rule's code, and the sentence for staff."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    """Which rule stopped a dial; stored as ``reason`` in the audit event."""

    NO_NUMBER_RECORD = "no_number_record"
    WRONG_HOUSEHOLD = "wrong_household"
    ALREADY_ENDED = "already_ended"
    STAFF_INACTIVE = "staff_inactive"
    NOT_OPTED_IN = "not_opted_in"
    NOT_DSL = "not_dsl"
    NOT_ADMIN = "not_admin"
    DO_NOT_CONTACT = "do_not_contact"
    NOT_A_NUMBER = "not_a_number"
    NO_OWN_PHONE = "no_own_phone"
    INTERNATIONAL = "international"
    KIND_NOT_ALLOWED = "kind_not_allowed"
    CAMPAIGN_CLOSED = "campaign_closed"
    OUTSIDE_HOURS = "outside_hours"
    NOT_A_SCHOOL_DAY = "not_a_school_day"
    OUTSIDE_CAMPAIGN_WINDOW = "outside_campaign_window"
    STAFF_RATE = "staff_rate"
    NUMBER_RATE = "number_rate"
    HUB_RATE = "hub_rate"


class Refused(Exception):
    """A rule failed; the public checks audit it and raise DialRefused instead."""

    def __init__(self, reason: Refusal, sentence: str, **detail: str | int) -> None:
        super().__init__(sentence)
        self.reason = reason
        self.sentence = sentence
        self.detail = detail
