"""A webhook receiver for the fault suite (tests/faults/webhooks.rs).

It checks every delivery's signature with the Standard Webhooks
specification's own Python library (`standardwebhooks` on PyPI), not with
boxoffice's code, and answers each as a script says, by the event's rank (the first
`webhook-id` it saw is 1, the next new one 2, ...) and how many times that
event came before:

    python3 webhook_receiver.py PORT SECRET LOG SCRIPT

SCRIPT is JSON: {"<rank>": [[wait_seconds, status], ...]}, one pair per
attempt; an event or attempt not listed is answered 200 at once. Every
request is appended to LOG as one JSON line when it arrives (before the wait),
so a test can act while a delivery is held: {"id", "rank", "type",
"eventId", "attempt", "verified", "error"?}.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PORT, SECRET, LOG, SCRIPT = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
WEBHOOK = Webhook(SECRET)
SEEN = {}
RANKS = {}
LOCK = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = {"id": headers.get("webhook-id", "")}
        try:
            event = WEBHOOK.verify(body, headers)
            record.update(verified=True, type=event.get("type"), eventId=event.get("id"))
        except (WebhookVerificationError, ValueError) as err:
            record.update(verified=False, error=str(err))
        with LOCK:
            attempt = SEEN.get(record["id"], 0)
            SEEN[record["id"]] = attempt + 1
            RANKS.setdefault(record["id"], len(RANKS) + 1)
            record["attempt"] = attempt
            record["rank"] = RANKS[record["id"]]
            with open(LOG, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        steps = SCRIPT.get(str(record["rank"]), [])
        wait, status = steps[attempt] if attempt < len(steps) else (0, 200)
        time.sleep(wait)
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass  # the sender gave up (a timeout) or died (a crash)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
