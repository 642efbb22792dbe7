"""A second factor for signing in: a code from an authenticator app (TOTP), or a recovery code.

Setting up: the panel shows a new secret as a QR code (and as text), the member of
staff adds it to their authenticator app and types the code it shows; only then is
the secret kept, with ten recovery codes shown once and stored hashed. Signing in
then asks for a code after the password. A code is accepted for the 30 seconds
before and after its own, and never twice; a recovery code works once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub import audit
from hub.models import RecoveryCode, StaffUser, utcnow

RECOVERY_CODES = 10
ISSUER = "School Phone Hub"


def new_secret() -> str:
    """A fresh shared secret (base32), not yet anyone's."""
    return pyotp.random_base32()


def qr_svg(secret: str, email: str) -> str:
    """The secret as an inline SVG QR code an authenticator app can scan."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, title="Two-step sign-in set-up code")


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _step(secret: str, code: str, at: datetime) -> int | None:
    """The 30-second step ``code`` belongs to, within one step of ``at``, or None."""
    totp = pyotp.TOTP(secret)
    code = code.replace(" ", "")
    now_step = totp.timecode(at)
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enable(session: Session, user: StaffUser, secret: str, code: str, *,
           now: datetime | None = None) -> list[str] | None:  # fmt: skip
    """Keep ``secret`` as the user's second factor if ``code`` proves the app has it.

    Returns the recovery codes, to be shown once, or None if the code was wrong.
    """
    now = now or utcnow()
    step = _step(secret, code, now)
    if step is None:
        return None
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, now, step
    codes = _new_recovery_codes(session, user)
    audit.record(session, "user.second_factor_enabled", actor=user, target_type="staff_user",
                 target_id=user.id)  # fmt: skip
    return codes


def check(session: Session, user: StaffUser, code: str, *, now: datetime | None = None) -> bool:
    """Whether ``code`` (the app's, or an unused recovery code) signs ``user`` in; once each."""
    if user.totp_secret is None:
        return False
    now = now or utcnow()
    step = _step(user.totp_secret, code, now)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return False  # seen already: a code overheard or replayed
        user.totp_last_step = step
        return True
    found = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.staff_id == user.id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if found is None:
        return False
    found.used_at = now
    audit.record(session, "user.recovery_code_used", actor=user, target_type="staff_user",
                 target_id=user.id)  # fmt: skip
    return True


def recovery_codes_left(session: Session, user: StaffUser) -> int:
    """How many of the user's recovery codes are still unused."""
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.staff_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def remove(session: Session, user: StaffUser, *, actor: StaffUser) -> None:
    """Take the second factor off ``user`` (by themselves, or an admin's reset); audited."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
    audit.record(session, "user.second_factor_removed", actor=actor, target_type="staff_user",
                 target_id=user.id)  # fmt: skip


def _new_recovery_codes(session: Session, user: StaffUser) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == user.id))
    codes = ["-".join(secrets.token_hex(3) for _ in range(2)) for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(staff_id=user.id, code_hash=_hash(code)) for code in codes)
    return codes


def _hash(code: str) -> str:
    # Random, 48 bits each and used once: a plain hash is enough, unlike a password.
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()
