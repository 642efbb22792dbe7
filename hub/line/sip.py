"""The SIP stack: one pjsua2 endpoint, its transport and account, owned by one thread.

pjsua2 crashes the process when it is misused, so this module keeps its rules in
one place: the endpoint is created with ``threadCnt=0`` and ``mainThreadOnly`` and
driven only by ``SipStack.poll`` from the thread that created it; every Call keeps
a Python reference until it is disconnected and is let go of in that very callback
(as pjsua2 advises: a Call object deleted after its slot has gone to the next call
hangs that call up); players, recorders and the Account are released on a later
loop turn, never inside a callback; and everything is dropped before
``libDestroy``. pjsip's own log is off, since it would print parents' numbers.
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pjsua2 as pj

from hub import __version__
from hub.config.addresses import sip_uri_with
from hub.exceptions import LineError
from hub.line.inbound import InboundRefusal

log = logging.getLogger(__name__)

POLL_MS = 20  # one turn of the SIP loop waits at most this long for pjsip
CLOCK_RATE = 16_000  # the conference bridge's rate; speech prompts are rendered at it
USER_AGENT = f"School Phone Hub/{__version__}"
TRANSPORTS = {
    "udp": pj.PJSIP_TRANSPORT_UDP,
    "tcp": pj.PJSIP_TRANSPORT_TCP,
    "tls": pj.PJSIP_TRANSPORT_TLS,
}
# UK trunks speak G.711 A-law; offer it first, then the other G.711 and G.722.
CODECS = ("PCMA/8000", "PCMU/8000", "G722/16000")


ECHO_TAIL_MS = 200  # a handset's loudspeaker echo is over well within this
HANDSET_FRAME_MS = 10  # the bridge's and the sound device's frame with a handset (pjmedia: 20)


@dataclass(frozen=True)
class SoundSettings:
    """The handset's ALSA devices and how they are driven ("null": no handset)."""

    capture: str = "null"
    playback: str = "null"
    echo_cancellation: bool = True
    capture_buffer_ms: int = 40  # as default.toml; see bench/changes.md
    playback_buffer_ms: int = 60
    microphone_gain_db: int = 0
    speaker_gain_db: int = 0

    @property
    def headless(self) -> bool:
        """True when there is no handset to drive."""
        return self.capture == "null"


PJSUA_MAX_CALLS = 32  # pjsua's own ceiling, as PJSIP 2.15.1 is built


@dataclass(frozen=True)
class StackSettings:
    """What the SIP stack needs from the config, and nothing about any person."""

    bind_host: str
    bind_port: int
    transport: str
    rtp_ports: tuple[int, int]
    sound: SoundSettings = SoundSettings()
    tls_ca_file: Path | None = None
    refuse_inbound: bool = False  # strangers' INVITEs and SUBSCRIBEs: see hub.line.inbound
    max_calls: int = 1  # calls of the hub's own at once, each of up to three legs

    @property
    def calls(self) -> int:
        """pjsua's room for calls: three legs a call, and room to refuse strangers'."""
        return min(PJSUA_MAX_CALLS, 3 * self.max_calls + 4)


class SipStack:
    """A pjsua2 endpoint with one transport; create, poll and close from one thread."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.endpoint = pj.Endpoint()
        with _quiet():
            self.endpoint.libCreate()
        self.transport_id = -1
        self._refusal: InboundRefusal | None = None
        self._closed = False
        try:
            self._configure()
        except pj.Error as exc:
            self.close()
            raise LineError(f"The SIP stack could not start: {reason(exc)}.") from exc
        except BaseException:
            self.close()
            raise

    def _configure(self) -> None:
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.userAgent = USER_AGENT
        config.uaConfig.maxCalls = self.settings.calls
        config.logConfig.level = 0
        config.logConfig.consoleLevel = 0
        config.logConfig.msgLogging = 0
        config.medConfig.clockRate = CLOCK_RATE
        config.medConfig.sndClockRate = CLOCK_RATE
        # Silence must still send RTP, or "no audio for N seconds" would end calls.
        config.medConfig.noVad = True
        sound = self.settings.sound
        config.medConfig.ecTailLen = ECHO_TAIL_MS if sound.echo_cancellation else 0
        config.medConfig.ecOptions = pj.PJMEDIA_ECHO_SPEEX
        config.medConfig.sndRecLatency = sound.capture_buffer_ms
        config.medConfig.sndPlayLatency = sound.playback_buffer_ms
        # The microphone's frames wait in the conference bridge for its next tick; in
        # 10 ms ticks they wait half as long (staff → family 199 → 171 ms, bench/voice.py).
        # RTP stays in 20 ms packets. Without a handset nobody hears the difference.
        if not sound.headless:
            config.medConfig.audioFramePtime = HANDSET_FRAME_MS
        # A handset stays open: opened at the answer, the family's first "Hello?"
        # would be lost while the device starts. Without one, nothing ticks when idle.
        config.medConfig.sndAutoCloseTime = 1 if sound.headless else -1
        with _quiet():
            self.endpoint.libInit(config)
        self.endpoint.audDevManager().setNullDev()
        self.transport_id = self.endpoint.transportCreate(
            TRANSPORTS[self.settings.transport], self._transport_config()
        )
        self.endpoint.libStart()
        if self.settings.refuse_inbound:
            try:
                self._refusal = InboundRefusal()
            except LineError as exc:
                log.warning("inbound calls will be refused the costly way: %s", exc)
        for codec in self.endpoint.codecEnum2():
            self.endpoint.codecSetPriority(codec.codecId, 0)
        for priority, codec in zip(range(255, 0, -1), CODECS, strict=False):
            try:
                self.endpoint.codecSetPriority(codec, priority)
            except pj.Error:
                continue  # a codec this build lacks; the others remain

    def sound_devices(self, *, refresh: bool = False) -> list[pj.AudioDevInfo]:
        """The sound devices pjmedia can use, as ALSA names them (``refresh``: look again)."""
        manager = self.endpoint.audDevManager()
        if refresh:
            manager.refreshDevs()
        return list(manager.enumDev2())

    def use_handset(self) -> str | None:
        """Route calls' audio to the configured handset; what is wrong, or None if it worked.

        Looks the devices up afresh, since a handset plugged in again may come back as
        another card. On any problem the null device stays in place.
        """
        sound = self.settings.sound
        manager = self.endpoint.audDevManager()
        if sound.headless:
            return None
        devices = self.sound_devices(refresh=True)
        indices = {}
        for part, name, needs in (("microphone", sound.capture, "inputCount"),
                                  ("speaker", sound.playback, "outputCount")):  # fmt: skip
            found = [i for i, d in enumerate(devices) if d.name == name and getattr(d, needs)]
            if not found:
                return f'the {part} "{name}" is not among the sound devices ALSA lists'
            indices[part] = found[0]
        try:
            # Set both before opening either: set alone, pjsua2 pairs the microphone
            # with ALSA's "default" speaker for a moment, which may not exist.
            manager.setSndDevMode(pj.PJSUA_SND_DEV_NO_IMMEDIATE_OPEN)
            manager.setCaptureDev(indices["microphone"])
            manager.setPlaybackDev(indices["speaker"])
            manager.setSndDevMode(0)
            manager.setCaptureDev(indices["microphone"])  # the same pair: opens it now
        except pj.Error as exc:
            manager.setNullDev()
            return f"the handset could not be opened: {reason(exc)}"
        return None

    def drop_handset(self) -> None:
        """Close the handset's devices (pjmedia spins on a device that has gone)."""
        self.endpoint.audDevManager().setNullDev()

    def _transport_config(self) -> pj.TransportConfig:
        settings = self.settings
        config = pj.TransportConfig()
        config.port = settings.bind_port
        config.boundAddress = settings.bind_host
        if settings.bind_host not in ("0.0.0.0", "::"):
            config.publicAddress = settings.bind_host
        if settings.transport in ("tcp", "tls"):
            # SIP over TCP stalls behind Nagle's algorithm; send each message at once.
            option = pj.SockOpt()
            option.level = socket.IPPROTO_TCP
            option.optName = socket.TCP_NODELAY
            option.setOptValInt(1)
            config.sockOptParams.sockOpts.append(option)
        if settings.transport == "tls":
            tls = config.tlsConfig
            tls.method = pj.PJSIP_TLSV1_2_METHOD
            tls.proto = 0  # with method set, TLS 1.2 and newer
            tls.verifyServer = True
            if settings.tls_ca_file is not None:
                tls.CaListFile = str(settings.tls_ca_file)
        return config

    def media_config(self, account: pj.AccountConfig) -> None:
        """Bind a call's audio to the configured address and port range."""
        low, high = self.settings.rtp_ports
        media = account.mediaConfig.transportConfig
        media.port = low
        media.portRange = high - low
        media.boundAddress = self.settings.bind_host
        if self.settings.bind_host not in ("0.0.0.0", "::"):
            media.publicAddress = self.settings.bind_host
        nat = account.natConfig
        nat.iceEnabled = False
        nat.sipOutboundUse = 0
        nat.contactRewriteUse = 0
        # On TCP and TLS, the listening port, not the connection's own ephemeral one: a
        # trunk that opens a new connection to the hub (for a call, say) must find it.
        nat.contactUseSrcPort = False
        nat.viaRewriteUse = 0
        nat.sdpNatRewriteUse = 0
        account.sipConfig.transportId = self.transport_id

    def uri_params(self) -> str:
        """The URI parameter that keeps requests on the configured transport."""
        return "" if self.settings.transport == "udp" else f";transport={self.settings.transport}"

    def server_uri(self, uri: str, *params: str) -> str:
        """A configured server's ``uri`` on the configured transport, with ``params``.

        A parameter the URI already has ("lr", "transport=tcp", as the ITSP wrote it) is
        not added twice.
        """
        return sip_uri_with(uri, *params, self.uri_params().lstrip(";"))

    @property
    def refused(self) -> int:
        """Requests refused beneath pjsua so far (``refuse_inbound``)."""
        return self._refusal.refused if self._refusal is not None else 0

    def poll(self, milliseconds: int) -> None:
        """Run pjsua2's timers and I/O for up to ``milliseconds``; callbacks happen here."""
        self.endpoint.libHandleEvents(milliseconds)

    def audio_device_media(self) -> tuple[pj.AudioMedia, pj.AudioMedia]:
        """The handset's microphone and earpiece as conference ports, at their levels."""
        manager = self.endpoint.audDevManager()
        microphone, earpiece = manager.getCaptureDevMedia(), manager.getPlaybackDevMedia()
        sound = self.settings.sound
        # Both are the bridge's port 0: what it sends is the microphone, what it
        # receives goes to the earpiece.
        microphone.adjustTxLevel(decibels(sound.microphone_gain_db))
        earpiece.adjustRxLevel(decibels(sound.speaker_gain_db))
        return microphone, earpiece

    def close(self) -> None:
        """Destroy the endpoint; every Call and Account must already be released."""
        if self._closed:
            return
        self._closed = True
        if self._refusal is not None:
            self._refusal.close()  # pjsip would call into it until destroyed
            self._refusal = None
        # Not waiting for answers: the line has already hung up and unregistered, each
        # seen through by polling, and without this pjsua sleeps a whole second here.
        self.endpoint.libDestroy(pj.PJSUA_DESTROY_NO_RX_MSG)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence pjlib's start-up chatter, printed before its log settings apply."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def release_free_memory() -> bool:
    """Give memory the process has freed back to the system; False where libc can't.

    glibc keeps freed memory for reuse, so after a burst of calls the line would hold
    the megabytes pjsip used for them until the next burst; ``malloc_trim`` hands
    them back. Other C libraries (musl) have no such call and nothing is done.
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True


def reason(exc: pj.Error) -> str:
    """A pjsua2 error as a short phrase."""
    info = getattr(exc, "info", None)
    text = info() if callable(info) else str(exc)
    return " ".join(str(text).split()).rstrip(".") or "unknown error"


def decibels(gain_db: float) -> float:
    """A gain in decibels as the factor pjmedia multiplies the signal by."""
    return float(10 ** (gain_db / 20))


def display_name(text: str) -> str:
    """``text`` as a quoted SIP display name."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(name: str, value: str) -> pj.SipHeader:
    """One SIP header for a request."""
    item = pj.SipHeader()
    item.hName = name
    item.hValue = value
    return item


def call_param(status: int = 0) -> pj.CallOpParam:
    """A CallOpParam with the defaults, and ``status`` as the response code if given."""
    param = pj.CallOpParam(True)
    if status:
        param.statusCode = status
    return param


def audio_media(call: pj.Call) -> pj.AudioMedia | None:
    """The call's active audio stream as a conference port, if it has one."""
    info = call.getInfo()
    for index, media in enumerate(info.media):
        if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            return call.getAudioMedia(index)
    return None


HELD = (pj.PJSUA_CALL_MEDIA_REMOTE_HOLD, pj.PJSUA_CALL_MEDIA_LOCAL_HOLD)


def rx_packets(call: pj.Call) -> int | None:
    """RTP packets received so far on the call's audio stream (0 if none yet).

    None while the call is on hold (a=inactive, sendonly or recvonly agreed by
    re-INVITE): no audio is then expected, so none is missing.
    """
    info = call.getInfo()
    for index, media in enumerate(info.media):
        if media.type != pj.PJMEDIA_TYPE_AUDIO:
            continue
        if media.status in HELD:
            return None
        if media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            try:
                return int(call.getStreamStat(index).rtcp.rxStat.pkt)
            except pj.Error:
                return 0
    return 0


class Player(pj.AudioMediaPlayer):
    """A WAV played once into a call; ``on_end`` runs on the SIP thread when it ends."""

    def __init__(self, path: Path, on_end: Callable[[], None]) -> None:
        super().__init__()
        self.on_end = on_end
        self.ended = False
        self.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)

    def onEof2(self) -> None:
        # Only a flag here: destroying a player inside its own callback crashes.
        self.ended = True
