"""One hub process for tests/hub/test_many_hubs.py: several staff claiming from one campaign.

Run as ``python -m tests.hub.hub_worker URL HUB_NAME CAMPAIGN_ID STAFF_ID…``. It records
itself in the hubs table, prints ``ready``, waits for ``go`` on stdin so every hub
starts at once, then each member of staff (a thread, as the panel's worker threads
are) claims, calls and records an outcome until the campaign has nobody left. The
last line it prints is JSON: ``{staff_id: [entry ids claimed, in order]}``.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime

from hub.calls import record_outcome
from hub.db import open_database
from hub.line.attempts import register_hub
from hub.models import CallAttempt, Campaign, EndReason, Outcome, StaffUser
from hub.queues import claim_next

# A Wednesday in term, 10:00 in London: inside calling hours.
NOW = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)


def main(url: str, hub_name: str, campaign_id: int, staff_ids: list[int]) -> int:
    claimed: dict[int, list[int]] = {staff_id: [] for staff_id in staff_ids}
    failures: list[str] = []
    with open_database(url) as database:
        hub_id = register_hub(database, hub_name)

        def work(staff_id: int) -> None:
            try:
                while True:
                    # Claim in one transaction, record in the next, as the call desk does.
                    with database.session() as session:
                        staff = session.get(StaffUser, staff_id)
                        campaign = session.get(Campaign, campaign_id)
                        entry = claim_next(session, campaign, staff, now=NOW)
                        if entry is None:
                            return
                        claimed[staff_id].append(entry.id)
                        attempt = CallAttempt(
                            entry_id=entry.id,
                            household_id=entry.household_id,
                            staff_id=staff_id,
                            hub_id=hub_id,
                            requested_at=NOW,
                            ended_at=NOW,
                            end_reason=EndReason.COMPLETED,
                        )
                        session.add(attempt)
                        session.flush()
                        attempt_id = attempt.id
                    with database.session() as session:
                        record_outcome(
                            session,
                            session.get(CallAttempt, attempt_id),
                            Outcome.SPOKE_TO_PARENT,
                            staff=session.get(StaffUser, staff_id),
                            now=NOW,
                        )
            except Exception as exc:  # reported to the test, which fails on it
                failures.append(f"{hub_name} staff {staff_id}: {exc!r}")

        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        threads = [threading.Thread(target=work, args=(staff_id,)) for staff_id in staff_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for failure in failures:
        print(failure, file=sys.stderr)
    print(json.dumps(claimed), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(a) for a in sys.argv[4:]]))
