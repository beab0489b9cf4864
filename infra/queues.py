"""SQS -> Lambda handler, for the local cloud and tests (in the cloud an event source mapping does it).

``QueuePump(url, handler).pump()`` receives what is in the queue and hands it to the handler in the event Lambda
sends for an SQS source (``{"Records": [{"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
"md5OfBody", "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}]}``). As with ``ReportBatchItemFailures``,
the messages the handler names in ``batchItemFailures`` (or all of them, when it raises) stay in the queue and come
back after their visibility timeout; the others are deleted.

One pump at a time per queue in a process: the local server's threads (a request from a page still open) and a
test's client drain the same queue, and a drain that found the queue empty because another thread holds the
messages must wait for that thread to finish them, or it returns before their mail is sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from protu import aws

Handler = Callable[[dict[str, Any], Any], Any]

_draining: dict[str, threading.Lock] = {}
_draining_lock = threading.Lock()


def _one_drain_at_a_time(url: str) -> threading.Lock:
    with _draining_lock:
        return _draining.setdefault(url, threading.Lock())


class QueuePump:
    def __init__(
        self, queue_url: str | Callable[[], str], handler: Handler, *, batch_size: int = 10, context: Any = None
    ) -> None:
        self._queue_url = queue_url  # or a function answering it (the settings' queue, whichever stack is current)
        self.handler = handler
        self.batch_size = batch_size
        self.context = context
        self._arns: dict[str, str] = {}

    @property
    def queue_url(self) -> str:
        return self._queue_url() if callable(self._queue_url) else self._queue_url

    def pump(self) -> int:
        """Deliver what the queue holds now, a batch at a time; answers how many messages were handled."""
        url = self.queue_url
        with _one_drain_at_a_time(url):
            return self._drain(url)

    def _drain(self, url: str) -> int:
        sqs = aws.client("sqs")
        handled = 0
        while True:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=self.batch_size, AttributeNames=["All"])
            got = answer.get("Messages", [])
            if not got:
                return handled
            try:
                answer = self.handler(self._event(url, got), self.context) or {}
                failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures") or []}
            except Exception:  # noqa: BLE001 - as Lambda: the whole batch comes back later
                failed = {m["MessageId"] for m in got}
            done = [m for m in got if m["MessageId"] not in failed]
            if done:
                entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)]
                sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            handled += len(done)
            if failed:
                return handled  # what failed waits for its visibility timeout, as in the cloud

    def _event(self, url: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        if url not in self._arns:
            attributes = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            self._arns[url] = attributes["Attributes"]["QueueArn"]
        arn = self._arns[url]
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": m.get("MessageAttributes", {}),
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": arn.split(":")[3],
                }
                for m in messages
            ]
        }


def mail_pump() -> QueuePump:
    """The mail queue of the current settings (``MailQueue``) with ``MailFunction``'s handler (``jobs.mail``)."""
    from protu.settings import settings

    from infra.server import load_functions

    load_functions()
    import jobs

    return QueuePump(lambda: settings().mail_queue_url, jobs.mail)
