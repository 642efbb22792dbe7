"""The line's commands: ``line``, ``practice-line``, ``status`` and ``test-call``.

Kept apart from ``cli.main`` so that commands which never touch SIP don't load pjsua2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.config import Config
from hub.control_client import ControlClient
from hub.exceptions import PhoneHubError
from hub.line.states import registration_words
from hub.speech import SpeechCache


def run(args: argparse.Namespace, config: Config) -> int:
    """Carry out one of the line's commands."""
    if args.command == "line":
        from hub.line.daemon import run_line

        _log_to_stderr()
        return run_line(config)
    if args.command == "practice-line":
        return _practice_line(args, config)
    client = ControlClient(config.line.control_socket)
    if args.command == "status":
        status = client.request("status")["status"]
        call = status.get("call")
        print(f"registration: {registration_words(status)}")
        shown = f"{call['state']} (attempt {call['attempt']})" if call else "none"
        print(f"call:         {shown}")
        for other in status.get("calls") or []:
            if other.get("via") == "own_phone":
                print(f"              {_through_own_phone(other)}")
        print(f"recording:    {'yes' if status.get('recording') else 'no'}")
        handset = status.get("handset", "unknown")
        if handset == "unplugged":
            handset = f"unplugged: {status.get('handset_problem')}"
        elif status.get("muted"):
            handset += ", muted"
        print(f"handset:      {handset}")
        if status.get("lights"):
            lit = ", ".join(f"{name} {what}" for name, what in status["lights"].items())
            print(f"lights:       {lit}")
        if "database" in status:  # not in safe mode, which has no database
            print(f"database:     {status['database'] or 'ok'}")
        if status.get("fault"):
            print(f"fault:        {status['fault']}")
        return 0
    return _test_call(client, args.number, args.as_email)


def _through_own_phone(call: dict[str, Any]) -> str:
    """One call through a member of staff's own phone, as ``phonehub status`` lists it."""
    words = f"{call['state']} (attempt {call['attempt']}, through a member of staff's phone"
    if call.get("interpreter"):
        words += ", interpreter on"
    return words + ")"


def _log_to_stderr() -> None:
    # systemd's journal takes stderr; no timestamps, journald adds its own.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _test_call(client: ControlClient, number: str, as_email: str) -> int:
    events = client.events()
    next(events)  # the current status comes first; then the subscription is live
    attempt = client.request("test_call", number=number, **{"as": as_email})["attempt"]
    print(f"test call {attempt}: dialling", flush=True)
    try:
        return _follow(events, attempt)
    except KeyboardInterrupt:
        client.request("hangup")
        raise


def _follow(events: Iterator[dict[str, Any]], attempt: int) -> int:
    """Print the call's states as they come; 0 if it was answered, 1 if it never connected."""
    answered = False
    for event in events:
        if event.get("event") != "call" or event.get("attempt") != attempt:
            continue
        state = event["state"]
        answered = answered or state == "answered"
        status = f" (SIP {event['sip_status']})" if event.get("sip_status") else ""
        if (
            state == "ended"
            and not status
            and event.get("ended_by") == "timeout"
            and (event.get("end_reason") == "failed")
        ):
            status = " (no response from the trunk)"
        if state == "ended":
            print(
                f"test call {attempt}: ended, {event['end_reason'].replace('_', ' ')}"
                f", hung up by {event['ended_by']}{status}",
                flush=True,
            )
            if not answered:
                print(f"test call {attempt}: did not connect", file=sys.stderr, flush=True)
            return 0 if answered else 1
        if state != "dialling":
            print(f"test call {attempt}: {state}{status}", flush=True)
    raise PhoneHubError("The line daemon stopped before the test call ended.")


def _practice_line(args: argparse.Namespace, config: Config) -> int:
    from hub.line.practice import GREETING, PracticeSettings, run_practice_line

    host, _, port = args.bind.rpartition(":")
    low, _, high = args.rtp_ports.partition("-")
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
    data = Path(config.hub.data_dir)
    greeting = args.greeting or SpeechCache(
        data / "speech", config.speech.voice, config.speech.rate
    ).render(GREETING)
    if not greeting.is_file():
        raise PhoneHubError(f"There is no greeting at {greeting}; give a WAV file.")
    _log_to_stderr()
    return run_practice_line(
        PracticeSettings(
            number=args.number,
            bind_host=host.strip("[]"),
            port=int(port),
            rtp_ports=(int(low), int(high)),
            greeting=greeting,
            record_dir=args.record_dir or data / "practice",
            log_path=args.log,
            registrar=args.registrar,
            password=password,
            domain=args.domain,
            ring_s=args.ring,
            answer=not args.no_answer,
            early_media=args.early_media,
            transport=args.transport,
            press=args.press,
            press_after_s=args.press_after,
        )
    )
