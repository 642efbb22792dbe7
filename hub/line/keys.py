"""Keys pressed on the desk's keypad, sent into the call: an extension, a menu's choice.

They go as RFC 4733 telephone-events in the call's audio stream, which every phone
system understands, or as SIP INFO for a trunk that wants them that way
(``[sip] dtmf``). "auto" sends telephone-events when the far end said it takes
them (its answer's SDP) and SIP INFO when it did not. The digits may be a PIN, so
they are never logged: only how many went.
"""

from __future__ import annotations

import logging

import pjsua2 as pj

from hub.exceptions import LineError
from hub.line.sip import reason

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#ABCD")
MOST_KEYS = 32  # a PIN and a language code, or an extension, with room to spare
# pjmedia's PJMEDIA_RTP_EREMNORFC2833: the far end's SDP offered no telephone-event.
NO_TELEPHONE_EVENTS = 220107


def checked_keys(text: str) -> str:
    """``text`` as keys to send ("12#"); LineError, in one sentence, if it cannot be."""
    keys = "".join(text.split()).upper()
    if not keys:
        raise LineError("Press at least one key to send.")
    if len(keys) > MOST_KEYS:
        raise LineError(f"At most {MOST_KEYS} keys can be sent at once.")
    wrong = sorted(set(keys) - KEYS)
    if wrong:
        raise LineError(
            f"Only the keys 0 to 9, * and # can be sent (and A to D), not {' '.join(wrong)}."
        )
    return keys


def send_keys(call: pj.Call, keys: str, how: str) -> str:
    """Send ``keys`` into ``call`` as ``how`` ("auto", "rfc4733", "info") says; what was used."""
    param = pj.CallSendDtmfParam()
    param.digits = keys
    used = "info" if how == "info" else "rfc4733"
    param.method = pj.PJSUA_DTMF_METHOD_SIP_INFO if used == "info" else pj.PJSUA_DTMF_METHOD_RFC2833
    try:
        call.sendDtmf(param)
    except pj.Error as exc:
        if how != "auto" or exc.status != NO_TELEPHONE_EVENTS:
            raise LineError(f"The keys could not be sent: {reason(exc)}.") from exc
        used, param.method = "info", pj.PJSUA_DTMF_METHOD_SIP_INFO
        try:
            call.sendDtmf(param)
        except pj.Error as again:
            raise LineError(f"The keys could not be sent: {reason(again)}.") from again
    log.info("sent %d key(s) as %s", len(keys), "SIP INFO" if used == "info" else "RFC 4733")
    return used
