#!/usr/bin/python3
"""End to end: the four services on the ctest fixture's stack, fed a real survey export.

Imports ../shared/data/real/bbva-mx-senda-nps/nps_thermal_senda_mx_sample.csv (5,000 rows)
through `reboundctl import` with the example mapping (owner addresses rewritten to this run's
own mail domain, so that other tests on the same stack cannot mix in), and checks:

  - every detractor of the file (score 0-6, counted here from the file) has exactly one case
    and exactly one alert email, and no passive or promoter has either;
  - a one-click link from an alert changes nothing on GET and records the resolution on POST,
    and a gRPC UpdateResolution records another; both show in GetCase and in case.events.v1;
  - an Escalate moves a case to the next owner up the chain, who gets an email.

The services run with their own Redis prefix, topics and consumer groups (deploy/local/
pipeline.py), so the test can run beside other tests on one stack. Exits 77 (ctest: skipped)
when the dataset folder is absent. Environment (set by ctest): REBOUND_STACK_ENV,
REBOUND_SOURCE_DIR, REBOUND_BINARY_DIR. Needs python3-grpcio and python3-grpc-tools.
"""

import csv
import email
import email.policy
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

SOURCE = os.environ.get("REBOUND_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("REBOUND_BINARY_DIR") or os.path.join(SOURCE, "build", "ci")
sys.path.insert(0, os.path.join(SOURCE, "deploy", "local"))
import pipeline  # noqa: E402

DATA = os.path.join(os.path.dirname(SOURCE), "shared", "data", "real", "bbva-mx-senda-nps",
                    "nps_thermal_senda_mx_sample.csv")
MAPPING = os.path.join(SOURCE, "examples", "mappings", "bbva-mx-senda-nps.json")
SKIPPED = 77
DRAIN_TIMEOUT_S = 180


class Failure(AssertionError):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def log(msg):
    print(f"e2e: {msg}", flush=True)


def wait_for(what, condition, timeout, interval=0.25):
    """Polls condition() until it returns a truthy value; fails naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")


def case_id_for(response_id):
    # Same derivation as libs/domain CaseIdForResponse.
    return "case-" + hashlib.sha256(response_id.encode()).hexdigest()[:20]


# --- the input, read independently of the importer ------------------------------------------


def expected_from_file(mapping):
    prefix = mapping["response_id"].get("prefix", "")
    id_col = mapping["response_id"]["column"]
    score_col = mapping["score"]["column"]
    detractors, others = set(), set()
    with open(DATA, encoding="utf-8", newline="") as f:
        for rec in csv.DictReader(f):
            score = int(rec[score_col])
            rid = prefix + rec[id_col].strip()
            (detractors if 0 <= score <= 6 else others).add(rid)
            # The survey tool's own category agrees with the 0-6 rule.
            check((rec["NPS Group"] == "DETRACTOR") == (score <= 6),
                  f"row {rid}: NPS Group {rec['NPS Group']} vs score {score}")
    return detractors, others


def private_mapping(work, domain):
    """The example mapping with every owner address moved to this run's mail domain."""
    with open(MAPPING, encoding="utf-8") as f:
        text = f.read()
    mapping = json.loads(text)
    text = text.replace("@example.com", f"@{domain}")
    path = os.path.join(work, "mapping.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path, mapping, json.loads(text)


# --- mail ---------------------------------------------------------------------------------


_MAIL_CACHE = {}  # envelope path -> (envelope, message or None): each file is read once


def our_mails(maildir, domain):
    """[(envelope, message)] of the stored mails with a recipient in `domain`, oldest first."""
    out = []
    for env_path in sorted(glob.glob(os.path.join(maildir, "*.json"))):
        eml = env_path[:-5] + ".eml"
        if env_path not in _MAIL_CACHE:
            if not os.path.exists(eml):
                continue  # the .json lands first; the .eml follows
            with open(env_path, encoding="utf-8") as f:
                envelope = json.load(f)
            msg = None
            if any(r.lower().endswith("@" + domain) for r in envelope.get("rcpt_tos", [])):
                with open(eml, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
            _MAIL_CACHE[env_path] = (envelope, msg)
        envelope, msg = _MAIL_CACHE[env_path]
        if msg is not None:
            out.append((envelope, msg))
    return out


def resolution_links(msg):
    """{label: url} of the one-click links in the text part."""
    text = msg.get_body(preferencelist=("plain",)).get_content()
    return dict(re.findall(r"^\s+([^:\n]+): (https?://\S+/r/\S+)\s*$", text, re.M))


# --- case.events.v1 -------------------------------------------------------------------------


def read_case_events(pb, brokers, topic):
    """Every CaseEvent on the topic so far (kcat, from the beginning to the end)."""
    r = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-f", "%k\t%S\t%s\n"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    check(r.returncode == 0, f"kcat failed: {r.stderr.decode(errors='replace')[-500:]}")
    data, pos, events = r.stdout, 0, []
    while pos < len(data):
        tab1 = data.index(b"\t", pos)
        tab2 = data.index(b"\t", tab1 + 1)
        key = data[pos:tab1].decode()
        size = int(data[tab1 + 1:tab2])
        value = data[tab2 + 1:tab2 + 1 + max(size, 0)]
        pos = tab2 + 1 + max(size, 0) + 1  # the trailing newline
        ev = pb.events.CaseEvent()
        ev.ParseFromString(value)
        check(ev.case.case_id == key, f"case event {ev.event_id} keyed {key!r}")
        events.append(ev)
    return events


# --- the test -------------------------------------------------------------------------------


def list_all_cases(pb, stub):
    cases, token = [], ""
    while True:
        reply = stub.ListCases(pb.case_service.ListCasesRequest(page_size=500, page_token=token),
                               timeout=30)
        cases.extend(reply.cases)
        token = reply.next_page_token
        if not token:
            return cases


def run(work, stack):
    import grpc

    t0 = time.monotonic()
    run_id = secrets.token_hex(4)
    domain = f"e2e-{run_id}.example.com"
    mapping_path, mapping, private = private_mapping(work, domain)
    detractors, others = expected_from_file(mapping)
    log(f"input: {len(detractors) + len(others)} rows, {len(detractors)} detractors (score 0-6)")
    check(len(detractors) > 0 and len(others) > 0, "the input should hold both kinds")
    expected_cases = {case_id_for(r): r for r in detractors}
    other_cases = {case_id_for(r) for r in others}

    pb = pipeline.load_protos(os.path.join(work, "proto-py"))
    pipe = pipeline.Pipeline(stack, os.path.join(work, "services"), build_dir=BINARY,
                             redis_prefix=f"e2e-{run_id}:", topic_prefix=f"e2e-{run_id}.",
                             partitions=4)
    pipe.start(timeout=90)
    try:
        for w in pipe.warnings:
            log(f"warning: {w}")
        env = dict(pipe.env_values())
        log(f"services ready in {pipe.start_seconds:.1f} s (topics {pipe.topics_seconds:.1f} s)")

        # Import.
        reboundctl = os.path.join(BINARY, "tools", "reboundctl", "reboundctl")
        rejects = os.path.join(work, "rejects.csv")
        r = subprocess.run([reboundctl, "import", "--file", DATA, "--mapping", mapping_path,
                            "--ingest-address", env["REBOUND_INGEST_ADDRESS"],
                            "--rejects-file", rejects, "--json"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, f"reboundctl import exit {r.returncode}:\n{r.stdout}\n{r.stderr}")
        imp = json.loads(r.stdout)
        log(f"import: read {imp['rows_read']}, accepted {imp['accepted']}, "
            f"rejected {imp['rejected']} in {imp['seconds']:.1f} s")
        check(imp["rows_read"] == len(detractors) + len(others),
              f"rows read {imp['rows_read']}, file has {len(detractors) + len(others)}")
        check(imp["accepted"] == imp["rows_read"] and imp["rejected"] == 0,
              f"every row of this file is valid: {imp}")

        # Drain: a case and an alert per detractor.
        channel = grpc.insecure_channel(env["REBOUND_CASES_ADDRESS"])
        stub = pb.case_service_grpc.CaseServiceStub(channel)
        maildir = stack["REBOUND_SMTP_MAILDIR"]
        t_import = time.monotonic()

        def drained():
            _, metrics = pipeline.http_get(f"{env['REBOUND_CASES_HTTP']}/metrics")
            opened = sum(v for _, v in pipeline.metric_values(metrics,
                                                              "rebound_cases_opened_total"))
            alerts = sum(1 for _, m in our_mails(maildir, domain)
                         if m["X-Rebound-Kind"] == "alert")
            return opened >= len(detractors) and alerts >= len(detractors)

        wait_for(f"{len(detractors)} cases and alert emails", drained, DRAIN_TIMEOUT_S, 0.5)
        log(f"drained {time.monotonic() - t_import:.1f} s after the import")
        t_checks = time.monotonic()

        cases = list_all_cases(pb, stub)
        by_id = {}
        for c in cases:
            check(c.case_id not in by_id, f"ListCases returned {c.case_id} twice")
            by_id[c.case_id] = c
        check(set(by_id) == set(expected_cases),
              f"cases vs detractors: {len(set(by_id) - set(expected_cases))} unexpected, "
              f"{len(set(expected_cases) - set(by_id))} missing")
        for cid, c in by_id.items():
            rids = [resp.response_id for resp in c.responses]
            check(rids == [expected_cases[cid]], f"{cid} holds responses {rids}")
            check(c.responses[0].score <= 6, f"{cid}: score {c.responses[0].score}")
        check(not (set(by_id) & other_cases), "a passive or promoter has a case")

        log(f"  cases checked ({time.monotonic() - t_checks:.1f} s)")
        # Pick the cases for the interactive part before anything changes them.
        ordered = sorted(by_id.values(), key=lambda c: c.case_id)
        link_case, grpc_case, escalate_case = ordered[0], ordered[1], ordered[2]
        for c in (link_case, grpc_case, escalate_case):
            check(len(c.responses[0].owner_chain) >= 2, f"{c.case_id}: owner chain too short")

        # One-click link: GET shows a confirmation and changes nothing; POST records it.
        alert = [m for _, m in our_mails(maildir, domain)
                 if m["X-Rebound-Case-Id"] == link_case.case_id and
                 m["X-Rebound-Kind"] == "alert"][0]
        links = resolution_links(alert)
        check("Resolved" in links, f"alert links: {sorted(links)}")
        url = links["Resolved"]
        check(url.startswith(env["REBOUND_CASES_HTTP"] + "/r/"), f"link {url}")
        status, _, page = pipeline.http_request(url)
        check(status == 200, f"GET {url}: {status}")
        check("<form" in page.lower(), "the GET page should offer a confirmation form")
        after_get = stub.GetCase(pb.case_service.GetCaseRequest(case_id=link_case.case_id),
                                 timeout=10).case
        check(after_get.version == link_case.version and not after_get.closed,
              "a GET of a link must not change the case")
        action = re.search(r'<form[^>]*action="([^"]*)"', page, re.I)
        post_url = urllib.parse.urljoin(url, action.group(1).replace("&amp;", "&")) \
            if action and action.group(1) else url
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page, re.I))
        status, _, page = pipeline.http_request(
            post_url, method="POST", data=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(status in (200, 303), f"POST {post_url}: {status}")
        got = stub.GetCase(pb.case_service.GetCaseRequest(case_id=link_case.case_id),
                           timeout=10).case
        owner = link_case.owner
        check(got.resolution == pb.case.RESOLUTION_RESOLVED and got.closed,
              f"after the link: resolution {got.resolution}, closed {got.closed}")
        last = got.history[-1]
        check(last.kind == "resolution" and last.actor == f"link:{owner}" and
              last.to_resolution == pb.case.RESOLUTION_RESOLVED,
              f"link change in history: {last}")

        log(f"  one-click link checked ({time.monotonic() - t_checks:.1f} s)")
        # gRPC UpdateResolution.
        reply = stub.UpdateResolution(pb.case_service.UpdateResolutionRequest(
            case_id=grpc_case.case_id, resolution=pb.case.RESOLUTION_NOT_AN_ISSUE,
            actor="e2e-test", note="Checked with the client: a one-off.",
            expected_version=grpc_case.version), timeout=10)
        check(reply.case.resolution == pb.case.RESOLUTION_NOT_AN_ISSUE, "UpdateResolution reply")
        got = stub.GetCase(pb.case_service.GetCaseRequest(case_id=grpc_case.case_id),
                           timeout=10).case
        check(got.resolution == pb.case.RESOLUTION_NOT_AN_ISSUE and got.closed and
              got.history[-1].actor == "e2e-test" and
              got.history[-1].note == "Checked with the client: a one-off.",
              f"after UpdateResolution: {got.resolution}, {got.history[-1]}")

        # Escalate: the next link up the chain owns the case and gets an email.
        chain = escalate_case.responses[0].owner_chain
        check(escalate_case.owner == chain[-1].name, f"owner {escalate_case.owner} vs chain")
        boss = chain[-2]
        reply = stub.UpdateResolution(pb.case_service.UpdateResolutionRequest(
            case_id=escalate_case.case_id, resolution=pb.case.RESOLUTION_ESCALATE,
            actor="e2e-test"), timeout=10)
        got = stub.GetCase(pb.case_service.GetCaseRequest(case_id=escalate_case.case_id),
                           timeout=10).case
        check(got.owner == boss.name and got.escalated and not got.closed,
              f"after Escalate: owner {got.owner}, escalated {got.escalated}")

        def escalation_mail():
            return [(e, m) for e, m in our_mails(maildir, domain)
                    if m["X-Rebound-Case-Id"] == escalate_case.case_id and
                    m["X-Rebound-Kind"] == "escalation"]

        # Behind it in the queue may be the overdue reminders of the whole import (the data is
        # months old), so allow for a few hundred sends.
        mails = wait_for("the escalation email", escalation_mail, 120)
        check(len(mails) == 1, f"{len(mails)} escalation emails")
        check(boss.email.lower() in [r.lower() for r in mails[0][0]["rcpt_tos"]],
              f"escalation went to {mails[0][0]['rcpt_tos']}, not to the next owner")

        log(f"  escalation email arrived ({time.monotonic() - t_checks:.1f} s)")
        # case.events.v1 carries both resolutions and the escalation.
        def events_arrived():
            events = read_case_events(pb, stack["REBOUND_KAFKA_BROKERS"],
                                      pipe.topics["case_events"])
            kinds = {(e.case.case_id, e.type, e.change.actor) for e in events}
            want = {(link_case.case_id, pb.events.CASE_EVENT_TYPE_RESOLUTION_CHANGED,
                     f"link:{owner}"),
                    (grpc_case.case_id, pb.events.CASE_EVENT_TYPE_RESOLUTION_CHANGED, "e2e-test"),
                    (escalate_case.case_id, pb.events.CASE_EVENT_TYPE_ESCALATED, "e2e-test")}
            return events if want <= kinds else None

        events = wait_for("the changes on case.events.v1", events_arrived, 60, 1)
        log(f"  {len(events)} case events read ({time.monotonic() - t_checks:.1f} s)")
        opened = {}
        for e in events:
            if e.type == pb.events.CASE_EVENT_TYPE_OPENED:
                opened.setdefault(e.case.case_id, set()).add(e.event_id)
        check(set(opened) == set(expected_cases),
              f"OPENED events for {len(opened)} cases, expected {len(expected_cases)}")
        check(all(len(ids) == 1 for ids in opened.values()), "a case has two OPENED event ids")

        # Last: exactly one alert per detractor, none for anyone else. Counted after the
        # steps above, so a late duplicate of an alert would have had time to show up.
        alerts = {}
        for envelope, msg in our_mails(maildir, domain):
            if msg["X-Rebound-Kind"] == "alert":
                alerts.setdefault(msg["X-Rebound-Case-Id"], []).append(msg["X-Rebound-Event-Id"])
        check(set(alerts) == set(expected_cases),
              f"alerts for {len(alerts)} cases, expected {len(expected_cases)} "
              f"({len(set(alerts) - set(expected_cases))} unexpected)")
        twice = {k: v for k, v in alerts.items() if len(v) != 1}
        check(not twice, f"{len(twice)} cases got more than one alert, e.g. "
                         f"{next(iter(twice.items()), None)}")
        check(not (set(alerts) & other_cases), "a passive or promoter got an alert")

        log(f"ok: {len(by_id)} cases, {len(alerts)} alerts, link + gRPC resolution + "
            f"escalation checked in {time.monotonic() - t_checks:.1f} s "
            f"({time.monotonic() - t0:.1f} s in all)")
        channel.close()
    finally:
        codes = pipe.stop()
        log("services stopped: " + ", ".join(f"{k} {'killed' if v is None else f'exit {v}'}"
                                              for k, v in sorted(codes.items())))
    bad = {k: v for k, v in codes.items() if v != 0}
    check(not bad, f"services did not exit 0 on SIGTERM: {bad}")


def main():
    if not os.path.isfile(DATA):
        print(f"e2e: skipped: dataset not found at {DATA} (the shared data folder lies beside "
              f"the checkout)")
        return SKIPPED
    stack_env = os.environ.get("REBOUND_STACK_ENV") or os.path.join(BINARY, "stack", "stack.env")
    stack = pipeline.read_env_file(stack_env)
    base = os.path.join(BINARY, "tests", "e2e")
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run-", dir=base)
    try:
        run(work, stack)
    except (Failure, pipeline.PipelineError) as e:
        print(f"e2e: FAILED: {e}", flush=True)
        print(f"e2e: logs kept in {work}", flush=True)
        return 1
    except Exception:
        traceback.print_exc()
        print(f"e2e: logs kept in {work}", flush=True)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
