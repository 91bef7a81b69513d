#!/usr/bin/env python3
"""An OTLP/HTTP endpoint that takes every export and keeps nothing: the
collector of a load test measuring what tracing costs the server, not a
collector's own costs (loadtest/README.md).

    python3 loadtest/otlp_sink.py 4318 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
    OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 \
        loadtest/compare.sh REV

On exit (SIGINT/SIGTERM) it prints how many exports and bytes it took.
"""
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

taken = {"exports": 0, "bytes": 0}


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        taken["exports"] += 1
        taken["bytes"] += length
        self.send_response(200)
        self.send_header("Content-Type", self.headers.get("Content-Type", "application/x-protobuf"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def stop(*_):
    print(f"otlp_sink: {taken['exports']} exports, {taken['bytes']} bytes", file=sys.stderr)
    sys.exit(0)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4318
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
