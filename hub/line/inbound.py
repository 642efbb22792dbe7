"""Refusing what strangers send the line, beneath pjsua, before it costs anything.

The hub only calls out, yet its SIP port is open to whoever finds it: a misrouted
call, a SIP scanner, a flood. Left to pjsua, each new INVITE takes a call slot, a
dialog and two RTP sockets and is sent a "100 Trying" before the line can say no;
the refusal is then resent ten times to a sender that never acknowledges it. Each
SUBSCRIBE is accepted for ten minutes and notified. 2,000 of either cost the line
30 to 90 MB, and once RTP sockets are opened and closed faster than pjlib recycles
their slots (about 1,000 INVITEs a second on a PC) an assertion aborts the process.

``InboundRefusal`` is a pjsip module just ahead of pjsua's: an INVITE or SUBSCRIBE
that belongs to none of the hub's own dialogs gets one stateless answer (603 Decline
for a call, 403 Forbidden for a subscription) and nothing else: no slot, no socket,
no transaction, nothing kept. Requests within the hub's calls never reach it, since
pjsip's dialog layer takes them first, and OPTIONS still gets pjsua's 200, so a
trunk can check that the hub is there.

pjsua2 has no hook this early, so the module is built with ctypes on the functions
pjsip exports from pjsua2's own library. ``_Module`` is ``struct pjsip_module``
(pjsip/sip_module.h), unchanged for many releases; the build is pinned.
"""

from __future__ import annotations

import ctypes

import pjsua2 as pj

from hub.exceptions import LineError

# After the transaction and dialog layers (16, 32), before pjsua's modules
# (PJSIP_MOD_PRIORITY_APPLICATION, 64): only requests outside every dialog arrive.
PRIORITY = 63
REFUSALS = {b"INVITE": 603, b"SUBSCRIBE": 403}
# pjsip_rx_data_get_info() describes a request as "Request msg INVITE/cseq=1 (rdata…)".
_INFO_PREFIX = b"Request msg "


class _Str(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_long)]  # pj_str_t


_OnRxRequest = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _Module(ctypes.Structure):
    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _Str),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", ctypes.c_void_p),
        ("start", ctypes.c_void_p),
        ("stop", ctypes.c_void_p),
        ("unload", ctypes.c_void_p),
        ("on_rx_request", _OnRxRequest),
        ("on_rx_response", ctypes.c_void_p),
        ("on_tx_request", ctypes.c_void_p),
        ("on_tx_response", ctypes.c_void_p),
        ("on_tsx_state", ctypes.c_void_p),
    ]


class InboundRefusal:
    """The refusing module, registered with the running endpoint; ``close`` before libDestroy.

    Create and close it on the thread that polls pjsua2: pjsip calls it from that
    thread's poll. ``refused`` counts the requests it has answered.
    """

    def __init__(self) -> None:
        self.refused = 0
        try:
            library = ctypes.CDLL(pj._pjsua2.__file__)
            endpoint = library.pjsua_get_pjsip_endpt
            self._register = library.pjsip_endpt_register_module
            self._unregister = library.pjsip_endpt_unregister_module
            self._info = library.pjsip_rx_data_get_info
            self._respond = library.pjsip_endpt_respond_stateless
        except (OSError, AttributeError) as exc:
            raise LineError(f"this pjsua2 build does not export pjsip's functions ({exc})") from exc
        endpoint.restype = ctypes.c_void_p
        endpoint.argtypes = []
        for function in (self._register, self._unregister):
            function.restype = ctypes.c_int
            function.argtypes = [ctypes.c_void_p, ctypes.POINTER(_Module)]
        self._info.restype = ctypes.c_char_p
        self._info.argtypes = [ctypes.c_void_p]
        self._respond.restype = ctypes.c_int
        self._respond.argtypes = [ctypes.c_void_p] * 2 + [ctypes.c_int] + [ctypes.c_void_p] * 3
        self._name = b"mod-phonehub-refusal"
        self._callback = _OnRxRequest(self._on_request)  # pjsip holds only a pointer to it
        self._module = _Module(
            name=_Str(self._name, len(self._name)),
            id=-1,
            priority=PRIORITY,
            on_rx_request=self._callback,
        )
        self._endpoint = endpoint()
        status = self._register(self._endpoint, ctypes.byref(self._module))
        if status != 0:
            raise LineError(f"pjsip would not take the refusing module (status {status})")
        self._registered = True

    def _on_request(self, rdata: int | None) -> int:
        info = self._info(rdata) or b""
        method = info.removeprefix(_INFO_PREFIX).partition(b"/")[0].upper()
        status = REFUSALS.get(method)
        if status is None:
            return 0  # pjsua's to handle
        # Once answered it is done with, even if the answer could not be sent: a
        # sender that cares sends the request again and is answered again.
        self._respond(self._endpoint, rdata, status, None, None, None)
        self.refused += 1
        return 1

    def close(self) -> None:
        """Take the module out of pjsip; safe to call twice."""
        if self._registered:
            self._registered = False
            self._unregister(self._endpoint, ctypes.byref(self._module))
