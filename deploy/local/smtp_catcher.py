#!/usr/bin/python3
"""SMTP catcher for local runs and tests: accepts mail, stores it, injects faults.

Runs on Debian's python3-aiosmtpd, hence /usr/bin/python3 (a pyenv or venv
python on the PATH would not see the Debian package).

    smtp_catcher.py --smtp-port S --http-port H --maildir DIR/smtp/mail

Storage: every accepted message becomes two files in --maildir, sharing a
name that sorts by arrival time (<ns since epoch>-<pid>-<seq>):
  NAME.eml   the message bytes exactly as the client sent them inside DATA
             (after SMTP dot-unstuffing, CRLF line ends kept, nothing added)
  NAME.json  the envelope: {"id", "mail_from", "rcpt_tos", "mail_options",
             "rcpt_options", "peer", "received_at", "size", "eml"}
Both are written to a hidden temp file and renamed into place, the .json
first: once NAME.eml exists, NAME.json is complete too.

Control API (HTTP/JSON on 127.0.0.1:H):
  POST   /faults    {"rcpt": "a@example.com" | "*", "codes": [451, 250],
                     "stage": "data" | "rcpt"}   (stage defaults to "data")
                    queues reply codes: each following message to that
                    recipient consumes the next code; 250 means "accept
                    normally". "*" is a queue consumed by every message.
  GET    /faults    the queues left
  DELETE /faults    clears all queues
  GET    /messages  the stored envelopes (the .json files), oldest first
  DELETE /messages  removes the stored messages
  GET    /health    {"ok": true}
Per-recipient queues let tests that run in parallel each use their own
recipient address without affecting each other.

When a message to several recipients hits several queued codes, the worst
one answers (421 > 5xx > 4xx > 250). 421 also closes the connection, as a
server going away would.
"""

import argparse
import asyncio
import collections
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

log = logging.getLogger("smtp_catcher")

# Reply texts for the codes tests are expected to use; other codes get a generic text.
REPLIES = {
    250: "250 2.0.0 OK: queued as {id}",
    421: "421 4.3.0 Service not available, closing transmission channel (injected fault)",
    450: "450 4.2.1 Mailbox unavailable, try again later (injected fault)",
    451: "451 4.3.0 Requested action aborted: local error in processing (injected fault)",
    452: "452 4.3.1 Insufficient system storage (injected fault)",
    550: "550 5.1.1 Mailbox unavailable (injected fault)",
    552: "552 5.3.4 Message size exceeds fixed limit (injected fault)",
    554: "554 5.6.0 Transaction failed (injected fault)",
}
STAGES = ("data", "rcpt")


def reply_for(code, msg_id=""):
    text = REPLIES.get(code)
    if text is None:
        cls = {2: "2.0.0 OK", 4: "4.0.0 Temporary failure", 5: "5.0.0 Permanent failure"}
        text = f"{code} {cls.get(code // 100, '5.0.0 Failure')} (injected fault)"
    return text.format(id=msg_id)


def severity(code):
    """Order used to pick the answer when several queued codes apply."""
    if code == 421:
        return 4
    if code >= 500:
        return 3
    if code >= 400:
        return 2
    return 1


class FaultQueues:
    """Reply codes queued per (stage, recipient). Shared by the SMTP thread and
    the HTTP threads, hence the lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queues = collections.defaultdict(collections.deque)

    def add(self, stage, rcpt, codes):
        with self._lock:
            self._queues[(stage, rcpt.lower())].extend(codes)

    def clear(self):
        with self._lock:
            self._queues.clear()

    def snapshot(self):
        with self._lock:
            return [
                {"stage": stage, "rcpt": rcpt, "codes": list(q)}
                for (stage, rcpt), q in sorted(self._queues.items())
                if q
            ]

    def take(self, stage, rcpts):
        """Consumes one code from the "*" queue and from each recipient's queue;
        returns the worst of them, or None when nothing was queued."""
        picked = []
        with self._lock:
            for key in [(stage, "*")] + [(stage, r.lower()) for r in rcpts]:
                q = self._queues.get(key)
                if q:
                    picked.append(q.popleft())
        return max(picked, key=severity) if picked else None


class Store:
    """Writes accepted messages into the maildir (see module docstring)."""

    def __init__(self, maildir):
        self.maildir = maildir
        os.makedirs(maildir, exist_ok=True)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def _atomic_write(self, name, data):
        tmp = os.path.join(self.maildir, f".{name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.maildir, name))

    def save(self, envelope, session):
        with self._lock:
            seq = next(self._seq)
        msg_id = f"{time.time_ns():020d}-{os.getpid()}-{seq:06d}"
        content = envelope.content
        if isinstance(content, str):  # only if decode_data were turned on
            content = content.encode("utf-8", errors="surrogateescape")
        meta = {
            "id": msg_id,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "peer": list(session.peer) if session.peer else None,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "size": len(content),
            "eml": f"{msg_id}.eml",
        }
        self._atomic_write(f"{msg_id}.json", json.dumps(meta, ensure_ascii=False, indent=1).encode())
        self._atomic_write(f"{msg_id}.eml", content)
        return msg_id

    def list(self):
        out = []
        for name in sorted(os.listdir(self.maildir)):
            if name.endswith(".json") and not name.startswith("."):
                try:
                    with open(os.path.join(self.maildir, name), encoding="utf-8") as f:
                        out.append(json.load(f))
                except (OSError, ValueError):
                    pass  # removed or replaced meanwhile
        return out

    def clear(self):
        n = 0
        for name in os.listdir(self.maildir):
            if name.endswith((".eml", ".json")) and not name.startswith("."):
                try:
                    os.remove(os.path.join(self.maildir, name))
                    n += 1
                except FileNotFoundError:
                    pass
        return n


class Handler:
    """aiosmtpd hooks: RCPT and DATA consult the fault queues."""

    def __init__(self, faults, store):
        self.faults = faults
        self.store = store

    @staticmethod
    def _close_soon(server):
        # The reply is written after this hook returns; close right after it,
        # like a real server answering 421.
        transport = server.transport
        if transport is not None:
            asyncio.get_running_loop().call_later(0.05, transport.close)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.faults.take("rcpt", [address])
        if code is not None and code != 250:
            log.info("RCPT %s -> injected %d", address, code)
            if code == 421:
                self._close_soon(server)
            return reply_for(code)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        code = self.faults.take("data", envelope.rcpt_tos)
        if code is not None and code != 250:
            log.info("DATA to %s -> injected %d", envelope.rcpt_tos, code)
            if code == 421:
                self._close_soon(server)
            return reply_for(code)
        msg_id = self.store.save(envelope, session)
        log.info("stored %s from %s to %s", msg_id, envelope.mail_from, envelope.rcpt_tos)
        return reply_for(250, msg_id)


def make_http_handler(faults, store):
    class ControlAPI(BaseHTTPRequestHandler):
        server_version = "rebound-smtp-catcher"

        def log_message(self, fmt, *args):  # route into our log, not stderr
            log.info("http %s", fmt % args)

        def _send(self, status, body):
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _path(self):
            return self.path.split("?", 1)[0].rstrip("/")

        def do_GET(self):
            path = self._path()
            if path == "/messages":
                self._send(200, store.list())
            elif path == "/faults":
                self._send(200, faults.snapshot())
            elif path == "/health":
                self._send(200, {"ok": True})
            else:
                self._send(404, {"error": f"no such resource: {path}"})

        def do_POST(self):
            if self._path() != "/faults":
                return self._send(404, {"error": "POST only on /faults"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                rcpt = body["rcpt"]
                codes = [int(c) for c in body["codes"]]
                stage = body.get("stage", "data")
                if not isinstance(rcpt, str) or not rcpt:
                    raise ValueError("rcpt must be a non-empty string")
                if stage not in STAGES:
                    raise ValueError(f"stage must be one of {STAGES}")
                if any(not 200 <= c <= 599 for c in codes):
                    raise ValueError("codes must be SMTP reply codes (200-599)")
            except (KeyError, TypeError, ValueError) as e:
                return self._send(400, {"error": f"bad fault request: {e}"})
            faults.add(stage, rcpt, codes)
            self._send(200, {"queued": codes, "rcpt": rcpt, "stage": stage})

        def do_DELETE(self):
            path = self._path()
            if path == "/faults":
                faults.clear()
                self._send(200, {"cleared": True})
            elif path == "/messages":
                self._send(200, {"removed": store.clear()})
            else:
                self._send(404, {"error": f"no such resource: {path}"})

    return ControlAPI


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--smtp-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--maildir", required=True)
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    faults = FaultQueues()
    store = Store(args.maildir)

    controller = Controller(
        Handler(faults, store),
        hostname=args.host,
        port=args.smtp_port,
        server_hostname="rebound-smtp-catcher",
        ready_timeout=30,
        # Store exactly the bytes received; advertise SMTPUTF8 (8BITMIME is
        # always advertised by aiosmtpd). No AUTH, no STARTTLS.
        decode_data=False,
        enable_SMTPUTF8=True,
    )
    controller.start()

    httpd = ThreadingHTTPServer((args.host, args.http_port), make_http_handler(faults, store))
    httpd.daemon_threads = True

    def shutdown(signum, _frame):
        log.info("signal %d: shutting down", signum)
        # shutdown() blocks until serve_forever returns, so call it from another thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("SMTP on %s:%d, control API on http://%s:%d, maildir %s",
             args.host, args.smtp_port, args.host, args.http_port, args.maildir)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
