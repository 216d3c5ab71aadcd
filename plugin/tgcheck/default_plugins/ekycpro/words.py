"""ekycpro's status words as the normalised states of the provider contract, and
its typical speed: the vendor knowledge the core does not hold."""

from ...billing import DETERMINED, PER_TASK, Billing
from ...provider import FAILED, QUEUED, READY, RUNNING

# The vendor's status words. "completed" means processed, the file being written
# (it turns "exported" within seconds); "done", "finished" and "success" are how
# deployments spell the same with a result_url. "failed" is documented by the
# sister platform; the other failure words are how such APIs spell a task
# stopped on their side. Any other word has no state: polled with backoff, never
# counted as progress.
STATUS_WORDS = {
    "pending": QUEUED,
    "processing": RUNNING,
    "completed": READY,
    "exported": READY,
    "done": READY,
    "finished": READY,
    "success": READY,
    **dict.fromkeys(("failed", "failure", "error", "cancelled", "canceled", "rejected",
                     "expired", "aborted", "deleted", "stopped"), FAILED),
}
# Numbers per second the vendor typically processes (its example: 20,000 numbers
# in about 29 minutes): the polling policy's prior until a task's rate is measured.
TYPICAL_RATE = 11.0
# The vendor bills every 200: the create (once per task), and each status reply
# (get_status tells them through on_billed, also those it retries); downloads
# from the presigned result links are not billed; /v1/check is billed only when
# determined (its reply's `billed` says so when present); the balance's billing
# is not documented.
BILLING = Billing(create=PER_TASK, status=True, results=False, sync=DETERMINED, balance=None)
