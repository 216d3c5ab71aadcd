"""A provider for a JSON batch API, built on tgcheck.plugin alone: the tutorial of
docs/plugins.md ("A provider from zero"), line for line. It declares; the core's
wire retries, bounds, counts and redacts. Served by tests/json_batch_server.py."""

from __future__ import annotations

from tgcheck.plugin import (
    FAILED,
    QUEUED,
    READY,
    RUNNING,
    Billing,
    Call,
    Field,
    Provider,
    Setting,
    TaskStatus,
    TaskType,
    Wire,
    hookimpl,
    identity_of,
    progress_of,
)

# The API's JSON answer -> the task type's value; null is an explicit unknown.
ANSWERS = {True: "yes", False: "no", None: None}


class JsonBatch(Provider):
    name = "jsonbatch"
    status_words = {"queued": QUEUED, "running": RUNNING, "done": READY, "failed": FAILED}
    billing = Billing(status=False)  # status calls are free: polled until TGCHECK_TIMEOUT
    typical_rate = 2_000.0  # numbers a second

    def __init__(self, settings):
        key = settings.require_key()
        self.identity = identity_of(self.name, settings)
        self._wire = Wire(settings, base_url=settings.base_url, secret=key,
                          secret_headers={"Authorization": f"Bearer {key}"})

    def create_task(self, numbers, task_type, *, context=None):
        call = Call("creating the batch", "POST", "/v1/batches",
                    json={"numbers": list(numbers)})
        return self._wire.create(call, context=context, read=self._batch)

    def get_status(self, task_id, *, context=None):
        call = Call(f"asking for batch {task_id}", "GET", f"/v1/batches/{task_id}")
        return self._wire.query(call, context=context, read=self._batch, lost=True)

    def results(self, status, *, context=None):
        cursor = ""
        while cursor is not None:  # one page of records per call
            call = Call("reading the results", "GET", f"/v1/batches/{status.task_id}/results",
                        params={"cursor": cursor})
            records, cursor = self._wire.query(call, context=context, read=_page)
            yield records

    def _batch(self, reply):
        batch = reply.json()
        return TaskStatus(task_id=batch["id"], status=batch["state"],
                          state=self.state_of(batch["state"]),
                          **progress_of(batch.get("progress"), batch["size"]))

    def close(self):
        self._wire.close()


def _page(reply):
    """(number, answer, fields) records and the next page's cursor (None: the last
    page); fields: the record itself, from which the core keeps what the task type
    declares (tg_seen's last_seen). A reply of another shape (KeyError,
    TypeError...) is unreadable: asked again."""
    page = reply.json()
    return ([(r["number"], ANSWERS[r["registered"]], r) for r in page["results"]],
            page["next"])


class JsonBatchPlugin:
    """One hook brings the provider with its settings and its sandbox, another its
    task type with a field."""

    @hookimpl
    def tgcheck_register_task_types(self, register):
        register(TaskType("tg_seen", "registered", frozenset({"yes", "no"}),
                          "has a Telegram account, and when it was last seen",
                          fields=(Field("last_seen", "date/time"),), provider="jsonbatch"))

    @hookimpl
    def tgcheck_register_providers(self, register):
        from json_batch_server import JsonBatchServer  # the tests' stand-in server

        register("jsonbatch", JsonBatch, sandbox=JsonBatchServer, settings=[
            Setting("base_url", "TGCHECK_BASE_URL", "https://api.jsonbatch.example"),
            Setting("max_task_size", "TGCHECK_JSONBATCH_MAX", 25_000, parse=int,
                    help="the API's largest batch")])
