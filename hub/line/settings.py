"""What the line takes from the config: the SIP stack's settings and the handset's.

``hub.line.sip`` knows nothing of the config file; these turn its sections into the
plain settings the stack is built from.
"""

from __future__ import annotations

from hub.config import AudioSection, SipSection
from hub.line.sip import SoundSettings, StackSettings


def sound_settings(audio: AudioSection) -> SoundSettings:
    """The handset's devices and levels, as ``[audio]`` gives them."""
    return SoundSettings(
        capture=audio.capture,
        playback=audio.playback,
        echo_cancellation=audio.cancel_echo,
        capture_buffer_ms=audio.capture_buffer_ms,
        playback_buffer_ms=audio.playback_buffer_ms,
        microphone_gain_db=audio.microphone_gain_db,
        speaker_gain_db=audio.speaker_gain_db,
    )


def stack_settings(sip: SipSection, sound: SoundSettings, max_calls: int = 1) -> StackSettings:
    """The hub's own SIP stack, as ``[sip]`` gives it; strangers' calls are refused."""
    return StackSettings(
        bind_host=sip.bind_host,
        bind_port=sip.bind_port,
        transport=sip.transport,
        rtp_ports=sip.rtp_port_range,
        sound=sound,
        tls_ca_file=sip.tls_ca_file if sip.transport == "tls" else None,
        refuse_inbound=True,
        max_calls=max_calls,
    )
