"""The hub's SIP account: its pjsua2 config, from [sip], and pjsua2's callbacks on it.

With a registrar the account registers with digest auth, and hub.line.registration
decides when a failed REGISTER is tried again (pjsua's own retry is off); without
one, for an IP-authenticated trunk, it never registers.
"""

from __future__ import annotations

from typing import Protocol

import pjsua2 as pj

from hub.config import SipSection
from hub.line.registration import Binding
from hub.line.sip import SipStack, call_param, header, reason

REGISTRATION_EXPIRES_S = 300
IDENTITY_HEADERS = {"from+pai": "P-Asserted-Identity", "from+ppi": "P-Preferred-Identity"}


class AccountOwner(Protocol):
    """Whoever runs the account: told of registrations, keepalives and inbound calls."""

    binding: Binding

    def refuse_inbound(self, call_id: int) -> None:
        """pjsua offers an inbound call: decline it on the next turn."""


class HubAccount(pj.Account):
    """The hub's SIP account; hands every callback to the Line."""

    def __init__(self, line: AccountOwner) -> None:
        super().__init__()
        self.line = line

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        self.line.binding.on_registration(int(prm.code), int(prm.expiration))

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        # Only without hub.line.inbound's refusal, which answers INVITEs before pjsua.
        self.line.refuse_inbound(prm.callId)

    def onSendRequest(self, prm: pj.OnSendRequestParam) -> None:
        self.line.binding.on_keepalive_answer(int(prm.e.body.tsxState.tsx.statusCode))

    def send_options(self, target: str) -> str | None:
        """Ask ``target`` OPTIONS; why it could not be sent, or None."""
        request = pj.SendRequestParam()
        request.method = "OPTIONS"
        request.txOption.targetUri = target
        try:
            self.sendRequest(request)
        except pj.Error as exc:
            return reason(exc)
        return None

    def register_now(self) -> str | None:
        """REGISTER now; why it could not be started, or None."""
        try:
            self.setRegistration(True)
        except pj.Error as exc:
            return reason(exc)
        return None


def account_config(
    sip: SipSection, stack: SipStack, school_name: str, school_uri: str
) -> pj.AccountConfig:
    """The account's pjsua2 config: who the hub is, where it registers, how calls route."""
    config = pj.AccountConfig()
    if sip.registrar:
        config.idUri = f"{school_name} <sip:{sip.username}@{sip.effective_domain}>"
        config.regConfig.registrarUri = stack.server_uri(sip.registrar)
        config.regConfig.timeoutSec = REGISTRATION_EXPIRES_S
        # Off: it retries only some refusals (never a 404), at a fixed interval.
        # hub.line.registration retries every one but a rejected password, backing off.
        config.regConfig.retryIntervalSec = 0
        config.regConfig.unregWaitMsec = 2000
        credentials = pj.AuthCredInfo("digest", "*", sip.username, 0, sip.password)
        config.sipConfig.authCreds.append(credentials)
    else:
        config.idUri = f"{school_name} <{school_uri}>"
        config.regConfig.registerOnAdd = False
    # Calls go through the proxy, or else the registrar: the trunk's own front
    # door, on the port it was given (the domain alone would mean port 5060).
    route = sip.proxy or sip.registrar
    if route:
        config.sipConfig.proxies.append(stack.server_uri(route, "lr"))
    stack.media_config(config)
    return config


def invite_param(caller_id: str, school: str) -> pj.CallOpParam:
    """An INVITE's options: From is ``school`` (name and URI), and never a Privacy header.

    ``caller_id`` is [sip] caller_id: "from+pai" or "from+ppi" adds a P-Asserted- or
    P-Preferred-Identity that is the school too; nothing about staff is in either.
    """
    param = call_param()
    param.txOption.localUri = school
    if caller_id in IDENTITY_HEADERS:
        param.txOption.headers.append(header(IDENTITY_HEADERS[caller_id], school))
    return param
