#!/usr/bin/env bash
# Tests deploy/local/stack itself: starts a private stack in a temp folder (so it
# can run next to the stack the ctest fixtures start), exercises Kafka, Redis and
# the SMTP catcher (including fault injection), stops it and checks that no
# process or port is left behind.
#   tests/integration/stack_test.sh        (needs scripts/bootstrap done)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK="$ROOT/deploy/local/stack"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/rebound-stack-test.XXXXXX")"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# A server that exited may stay a zombie for a moment until init reaps it
# (its parent, the stack script, is gone); that counts as stopped.
running() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }

cleanup() {
  local rc=$?
  "$STACK" stop --dir "$DIR" >/dev/null 2>&1 || true
  if ((rc == 0)); then
    rm -rf "$DIR"
  else
    echo "stack folder kept for inspection: $DIR" >&2
  fi
}
trap cleanup EXIT

# --- start ---------------------------------------------------------------------
"$STACK" start --dir "$DIR" || fail "stack start failed"
[[ -f $DIR/stack.env ]] || fail "no $DIR/stack.env"
set -a # export the variables for the python part below
# shellcheck disable=SC1091
source "$DIR/stack.env"
set +a
for key in REBOUND_KAFKA_BROKERS REBOUND_REDIS_ADDRESS REBOUND_SMTP_URL REBOUND_SMTP_CONTROL_URL \
  REBOUND_SMTP_MAILDIR REBOUND_KAFKA_PID REBOUND_REDIS_PID REBOUND_SMTP_PID; do
  [[ -n ${!key:-} ]] || fail "stack.env lacks $key"
done
ok "stack.env has all keys"
"$STACK" status --dir "$DIR" >/dev/null || fail "status does not report a ready stack"
ok "status reports ready"

# --- Kafka: produce one message, read it back ------------------------------------
topic="stack-test-$RANDOM$RANDOM"
payload="hello from stack_test $(date +%s%N)"
printf '%s\n' "$payload" | kcat -P -b "$REBOUND_KAFKA_BROKERS" -t "$topic" -p 0 ||
  fail "kcat produce failed"
got=$(timeout 30 kcat -C -b "$REBOUND_KAFKA_BROKERS" -t "$topic" -p 0 -o beginning -c 1 -e -q) ||
  fail "kcat consume failed"
[[ $got == "$payload" ]] || fail "consumed '$got', expected '$payload'"
ok "kafka produce + consume"

# --- Redis ---------------------------------------------------------------------------
redis_port=${REBOUND_REDIS_ADDRESS##*:}
[[ $(redis-cli -h 127.0.0.1 -p "$redis_port" ping) == PONG ]] || fail "redis ping"
redis-cli -h 127.0.0.1 -p "$redis_port" set stack-test 1 >/dev/null
[[ $(redis-cli -h 127.0.0.1 -p "$redis_port" config get appendonly | tail -n1) == yes ]] ||
  fail "redis appendonly is not on"
ok "redis ping + appendonly"

# --- SMTP: one message stored byte for byte; a queued 451 is answered ------------------
python3 - <<'PY' || fail "smtp checks"
import glob, json, os, smtplib, time, urllib.request

host, port = os.environ["REBOUND_SMTP_URL"].removeprefix("smtp://").rsplit(":", 1)
control = os.environ["REBOUND_SMTP_CONTROL_URL"]
maildir = os.environ["REBOUND_SMTP_MAILDIR"]

def control_call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(control + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)

raw = ("From: Rebound <alerts@example.com>\r\nTo: alice@example.com\r\n"
       "Subject: stack test\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
       "Größe: 3 lines\r\n.leading dot\r\nend\r\n").encode()
with smtplib.SMTP(host, int(port), timeout=10) as s:
    s.ehlo()
    assert s.has_extn("smtputf8") and s.has_extn("8bitmime"), s.esmtp_features
    s.sendmail("alerts@example.com", ["alice@example.com"], raw, mail_options=["BODY=8BITMIME"])

deadline = time.time() + 10
while not glob.glob(os.path.join(maildir, "*.eml")) and time.time() < deadline:
    time.sleep(0.05)
emls = glob.glob(os.path.join(maildir, "*.eml"))
assert len(emls) == 1, emls
with open(emls[0], "rb") as f:
    assert f.read() == raw, "stored message differs from the bytes sent"
with open(emls[0][:-4] + ".json") as f:
    env = json.load(f)
assert env["mail_from"] == "alerts@example.com" and env["rcpt_tos"] == ["alice@example.com"], env
listed = control_call("GET", "/messages")
assert [m["id"] for m in listed] == [env["id"]], listed
print("ok: smtp message stored as .eml + .json")

# 451 for bob only, then accept: the first message to bob fails, alice is unaffected.
control_call("POST", "/faults", {"rcpt": "bob@example.com", "codes": [451, 250]})
with smtplib.SMTP(host, int(port), timeout=10) as s:
    s.sendmail("alerts@example.com", ["alice@example.com"], raw)  # not affected
    try:
        s.sendmail("alerts@example.com", ["bob@example.com"], raw)
        raise AssertionError("expected 451 for bob")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 451, e
    s.sendmail("alerts@example.com", ["bob@example.com"], raw)  # the queued 250
assert control_call("GET", "/faults") == [], control_call("GET", "/faults")

# 421 closes the connection; 550 at RCPT time rejects the recipient.
control_call("POST", "/faults", {"rcpt": "*", "codes": [421]})
try:
    with smtplib.SMTP(host, int(port), timeout=10) as s:
        s.sendmail("alerts@example.com", ["carol@example.com"], raw)
    raise AssertionError("expected 421")
except (smtplib.SMTPDataError, smtplib.SMTPServerDisconnected) as e:
    assert getattr(e, "smtp_code", 421) == 421, e
control_call("POST", "/faults", {"rcpt": "dave@example.com", "codes": [550], "stage": "rcpt"})
with smtplib.SMTP(host, int(port), timeout=10) as s:
    try:
        s.sendmail("alerts@example.com", ["dave@example.com"], raw)
        raise AssertionError("expected 550")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["dave@example.com"][0] == 550, e
assert len(control_call("GET", "/messages")) == 3
control_call("DELETE", "/faults")
print("ok: smtp faults 451 / 421 / 550 answered, per recipient")
PY

# --- stop: nothing left -------------------------------------------------------------------
"$STACK" stop --dir "$DIR" || fail "stack stop failed"
for pid in "$REBOUND_KAFKA_PID" "$REBOUND_REDIS_PID" "$REBOUND_SMTP_PID"; do
  ! running "$pid" || fail "pid $pid still running after stop"
done
for addr in "$REBOUND_KAFKA_BROKERS" "$REBOUND_REDIS_ADDRESS" "${REBOUND_SMTP_URL#smtp://}" \
  "${REBOUND_SMTP_CONTROL_URL#http://}"; do
  ! (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null || fail "$addr still answers after stop"
done
[[ ! -e $DIR/stack.env ]] || fail "stack.env left after stop"
"$STACK" stop --dir "$DIR" >/dev/null || fail "second stop is not idempotent"
ok "stopped: no process, no port, idempotent stop"
echo "PASS"
