#!/usr/bin/python3
"""The part of scripts/quickstart that runs after the build: the local stack, the four
services, the import of a real survey export, the wait until the pipeline has drained, and
the summary. Run it through scripts/quickstart, which bootstraps and builds first."""

import argparse
import collections
import email
import email.policy
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
import pipeline  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "real",
                            "botanic-garden-centre-nps", "nps.csv")
DEFAULT_MAPPING = os.path.join(REPO, "examples", "mappings", "botanic-garden-centre-nps.json")
TTY = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
GREEN, YELLOW, RED, DIM, BOLD, OFF = (("\033[32m", "\033[33m", "\033[31m", "\033[2m", "\033[1m",
                                       "\033[0m") if TTY else ("",) * 6)
LABEL = 26  # width of the label column of the summary


class QuickstartError(Exception):
    pass


def rel(path):
    """A path as the user can paste it from the repository root."""
    try:
        r = os.path.relpath(path, os.getcwd())
    except ValueError:
        return path
    return r if not r.startswith("../../") else path


STEP = 36  # width of a step's label, as in scripts/quickstart


def step(text, end="\n"):
    print(f"{GREEN}==>{OFF} {text}", end=end, flush=True)


def begin(label):
    """Starts a step line: "==> label"; finish it with done()."""
    step(f"{label:<{STEP}}", end="")


def done(t0, what="ok"):
    print(f"{what} ({time.monotonic() - t0:.0f} s)", flush=True)


def row(label, value="", note=""):
    note = f"  {DIM}{note}{OFF}" if note else ""
    print(f"  {label:<{LABEL}}{value}{note}", flush=True)


def n(value):
    return f"{int(value):,}"


def warn(text):
    print(f"{YELLOW}warning:{OFF} {text}", file=sys.stderr, flush=True)


# --- the local stack ---------------------------------------------------------------------


def start_stack(stack_dir, log_path):
    t0 = time.monotonic()
    begin("stack (Kafka, Redis, SMTP)")
    with open(log_path, "w") as log:
        r = subprocess.run([os.path.join(REPO, "deploy", "local", "stack"), "start",
                            "--dir", stack_dir], stdin=subprocess.DEVNULL, stdout=log,
                           stderr=subprocess.STDOUT)
    if r.returncode != 0:
        print("failed")
        raise QuickstartError(f"the stack did not start; log: {rel(log_path)}\n"
                              f"{pipeline.tail(log_path)}")
    done(t0)
    return pipeline.read_env_file(os.path.join(stack_dir, "stack.env"))


def stop_stack(stack_dir, log_path):
    with open(log_path, "a") as log:
        r = subprocess.run([os.path.join(REPO, "deploy", "local", "stack"), "stop",
                            "--dir", stack_dir], stdin=subprocess.DEVNULL, stdout=log,
                           stderr=subprocess.STDOUT)
    return r.returncode == 0


# --- import ------------------------------------------------------------------------------


def run_import(reboundctl, data, mapping, ingest_address, rejects, log_path):
    """reboundctl import --json; its progress bar (stderr) shows on the terminal."""
    # --allow-rejects: rejected rows (NA scores) are part of the demo, not a failure.
    argv = [reboundctl, "import", "--file", data, "--mapping", mapping,
            "--ingest-address", ingest_address, "--rejects-file", rejects, "--allow-rejects",
            "--json"]
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(shlex.quote(a) for a in argv) + "\n")
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=None if TTY else subprocess.PIPE, text=True)
    with open(log_path, "a") as log:
        log.write(r.stdout)
        if r.stderr:
            log.write(r.stderr)
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        raise QuickstartError(f"reboundctl import failed (exit {r.returncode}); "
                              f"log: {rel(log_path)}\n{pipeline.tail(log_path)}")
    if r.returncode != 0 and not summary.get("accepted"):
        raise QuickstartError(f"reboundctl import failed (exit {r.returncode}): "
                              f"{summary.get('error', 'see ' + rel(log_path))}")
    return summary


# --- figures from the services -----------------------------------------------------------


def scrape(address):
    status, body = pipeline.http_get(f"{address}/metrics", timeout=3)
    return body if status == 200 else ""


def total(text, name, **match):
    return sum(v for labels, v in pipeline.metric_values(text, name)
               if all(labels.get(k) == want for k, want in match.items()))


def by_label(text, name, label, **match):
    out = collections.Counter()
    for labels, v in pipeline.metric_values(text, name):
        if all(labels.get(k) == want for k, want in match.items()) and label in labels:
            out[labels[label]] += v
    return out


class Figures:
    """What the services report, read from their /metrics pages and the maildir."""

    def __init__(self, env, maildir):
        self.env = env
        self.maildir = maildir

    def read(self):
        c = scrape(self.env["REBOUND_CLASSIFIER_HTTP"])
        k = scrape(self.env["REBOUND_CASES_HTTP"])
        m = scrape(self.env["REBOUND_NOTIFIER_HTTP"])
        f = argparse.Namespace()
        f.categories = by_label(c, "rebound_classifier_responses_total", "category")
        f.classified = sum(f.categories.values())
        f.detractors_published = total(c, "rebound_classifier_detractors_total")
        f.by_priority = by_label(c, "rebound_classifier_detractors_total", "priority")
        f.by_theme = by_label(c, "rebound_classifier_detractors_total", "theme")
        f.cases_opened = total(k, "rebound_cases_opened_total")
        f.mails_sent = by_label(m, "rebound_notifier_mails_sent_total", "kind")
        f.emails = len(glob.glob(os.path.join(self.maildir, "*.eml")))
        return f


def wait_drained(figures, accepted, timeout, label):
    """Polls until every accepted response was classified, every detractor opened a case and
    every case's alert reached the SMTP server. On a terminal the counts show after the step's
    label as they grow. Returns the last figures, whether the condition held before the
    timeout, and the seconds waited."""
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    last_shown = ""
    while True:
        f = figures.read()
        drained = accepted == 0 or (
            f.classified >= accepted and f.cases_opened >= f.detractors_published
            and f.emails >= f.cases_opened)
        if TTY:
            shown = (f"classified {n(f.classified)} of {n(accepted)}, cases {n(f.cases_opened)}, "
                     f"emails {n(f.emails)}")
            if shown != last_shown:
                print(f"\r{GREEN}==>{OFF} {label:<{STEP}}{DIM}{shown}{OFF}\033[K", end="",
                      flush=True)
                last_shown = shown
        if drained or time.monotonic() > deadline:
            if TTY:
                print(f"\r{GREEN}==>{OFF} {label:<{STEP}}\033[K", end="", flush=True)
            return f, drained, time.monotonic() - t0
        time.sleep(0.25)


def case_service_figures(cases_address, proto_dir):
    """(GetStats reply, an urgent open case id) from the case service; (None, None) when it
    cannot be asked, and the summary falls back to the classifier's counters."""
    try:
        import grpc
        pb = pipeline.load_protos(proto_dir)
        with grpc.insecure_channel(cases_address) as ch:
            stub = pb.case_service_grpc.CaseServiceStub(ch)
            stats = stub.GetStats(pb.case_service.GetStatsRequest(), timeout=10)
            sample = None
            for prio in (pb.case.PRIORITY_URGENT, pb.case.PRIORITY_UNSPECIFIED):
                page = stub.ListCases(pb.case_service.ListCasesRequest(
                    state=pb.case_service.CASE_STATE_FILTER_OPEN, priority=prio,
                    order=pb.case_service.CASE_ORDER_DUE_FIRST, page_size=1), timeout=10)
                if page.cases:
                    sample = page.cases[0].case_id
                    break
            return stats, sample
    except Exception as e:  # noqa: BLE001  (any failure only thins the summary)
        warn(f"the case service did not answer GetStats/ListCases: {e}")
        return None, None


# --- the alert as a picture --------------------------------------------------------------


def count_alerts(maildir):
    """Stored mails whose X-Rebound-Kind header says alert (headers only are read)."""
    count = 0
    for path in glob.glob(os.path.join(maildir, "*.eml")):
        with open(path, "rb") as f:
            for line in f:
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"x-rebound-kind:"):
                    count += line.split(b":", 1)[1].strip().lower() == b"alert"
                    break
    return count


def pick_alert(maildir, limit=300):
    """(path, HTML) of an alert that shows the most: urgent, with a comment, if one of the first
    `limit` mails is; else the first alert."""
    best, best_score = None, -1
    for path in sorted(glob.glob(os.path.join(maildir, "*.eml")))[:limit]:
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if (msg["X-Rebound-Kind"] or "").lower() != "alert":
            continue
        html = msg.get_body(preferencelist=("html",))
        text = msg.get_body(preferencelist=("plain",))
        if html is None:
            continue
        score = 2 * ("urgent" in (msg["Subject"] or "").lower())
        score += text is not None and text.get_content().count("No Response Provided") == 1
        if score > best_score:
            best, best_score = (path, html.get_content()), score
        if best_score == 3:
            break
    return best or (None, None)


def find_chromium():
    for name in ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome",
                 "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def render_png(html, out_png, work_dir):
    browser = find_chromium()
    if not browser:
        return None
    page = os.path.join(work_dir, "alert.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html)
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work_dir)
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        "--window-size=900,1700", f"--screenshot={out_png}",
                        f"file://{page}"], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return out_png if r.returncode == 0 and os.path.exists(out_png) else None


# --- summary -----------------------------------------------------------------------------


def describe_mapping(mapping_path):
    try:
        with open(mapping_path, encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None
    routing = m.get("routing")
    if not routing:
        return None
    key = routing.get("key", {}).get("column", "?")
    table = routing.get("table", {})
    owners = sorted({o["name"] for e in table.values() for o in e.get("owner_chain", [])[-1:]})
    key_accounts = sorted(e["account"]["id"] if e.get("account") else k
                          for k, e in table.items() if "top 100" in
                          [t.lower() for t in e.get("tags", [])])
    accounts = sorted({e["account"]["id"] for e in table.values() if e.get("account")})
    how = f"column {key}" + (f" modulo {routing['modulo']}" if routing.get("modulo") else "")
    return how, len(table), accounts, owners, key_accounts


def print_summary(args, imp, f, stats, env, stack, rejects, png, png_note, drain_s, sample_case):
    print()
    print(f"{BOLD}Import{OFF}")
    row("file", rel(args.data), f"{imp.get('encoding', '?')}, delimiter "
        f"'{imp.get('delimiter', ',')}'")
    row("mapping", rel(args.mapping))
    row("rows read", f"{n(imp['rows_read']):>8}")
    row("accepted", f"{n(imp['accepted']):>8}")
    if imp.get("duplicates"):
        row("duplicates", f"{n(imp['duplicates']):>8}", "already known to ingest")
    row("rejected", f"{n(imp['rejected']):>8}")
    for reason, count in sorted(imp.get("rejected_by_reason", {}).items(), key=lambda x: -x[1]):
        row(f"  {reason}", f"{n(count):>8}")
    if imp.get("rejected"):
        row("rejected rows", rel(rejects), "line number, field and reason of each")
    if imp.get("replacement_characters"):
        row("undecodable bytes", f"{n(imp['replacement_characters']):>8}",
            "replaced by U+FFFD, rows kept")

    desc = describe_mapping(args.mapping)
    if desc:
        how, entries, accounts, owners, key_accounts = desc
        print()
        print(f"{BOLD}Routing{OFF}  {DIM}accounts, owner chains and tags are not in the data: "
              f"the mapping's lookup table adds them{OFF}")
        row("table keyed by", how, f"{entries} entries")
        if accounts:
            row("accounts", ", ".join(accounts))
        row("case owners", ", ".join(owners))
        if key_accounts:
            row("key accounts (Top 100)", ", ".join(key_accounts), "urgent priority")

    print()
    print(f"{BOLD}Scores{OFF}")
    if stats is not None and (stats.categories.promoters or stats.categories.detractors):
        cat = stats.categories
        pro, pas, det = cat.promoters, cat.passives, cat.detractors
        nps = cat.nps
    else:
        pro = f.categories.get("promoter", 0)
        pas = f.categories.get("passive", 0)
        det = f.categories.get("detractor", 0)
        nps = 100.0 * (pro - det) / max(1, pro + pas + det)
    row("NPS", f"{nps:>+8.1f}")
    row("promoters (9-10)", f"{n(pro):>8}")
    row("passives (7-8)", f"{n(pas):>8}")
    row("detractors (0-6)", f"{n(det):>8}")

    print()
    print(f"{BOLD}Detractors{OFF}")
    for prio in ("urgent", "high", "normal"):
        if prio in f.by_priority:
            row(f"priority {prio}", f"{n(f.by_priority[prio]):>8}")
    for prio, count in sorted(f.by_priority.items()):
        if prio not in ("urgent", "high", "normal"):
            row(f"priority {prio}", f"{n(count):>8}")
    for theme, count in sorted(f.by_theme.items(), key=lambda x: (-x[1], x[0])):
        row(f"theme {theme}", f"{n(count):>8}")

    print()
    print(f"{BOLD}Follow-up{OFF}")
    open_cases = None
    if stats is not None:
        open_cases = sum(stats.total.open_by_priority.values())
    row("cases open", f"{n(open_cases if open_cases is not None else f.cases_opened):>8}",
        f"pipeline drained in {drain_s:.1f} s after the import")
    row("alert emails accepted", f"{n(count_alerts(stack['REBOUND_SMTP_MAILDIR'])):>8}",
        "by the local SMTP server")
    row("emails (.eml)", rel(stack["REBOUND_SMTP_MAILDIR"]))
    row("envelopes (JSON)", f"{stack['REBOUND_SMTP_CONTROL_URL']}/messages")
    if png:
        row("one alert as PNG", rel(png))
    else:
        row("one alert as PNG", "-", png_note)

    ctl = rel(os.path.join(args.build_dir, "tools", "reboundctl", "reboundctl"))
    print()
    if args.once:
        print(f"{BOLD}Try{OFF}  {DIM}(without --once the services keep running for this){OFF}")
    else:
        print(f"{BOLD}Try{OFF}  {DIM}(in another terminal, while this one runs){OFF}")
    print(f"  export REBOUND_CASES_ADDRESS={env['REBOUND_CASES_ADDRESS']}")
    print(f"  {ctl} cases list --priority urgent --order due")
    print(f"  {ctl} cases show {sample_case or 'CASE_ID'}")
    print(f"  {ctl} cases resolve {sample_case or 'CASE_ID'} resolved --actor \"$USER\" "
          f"--note \"Called back; fixed\"")
    print()
    print(f"{BOLD}Logs{OFF}")
    for name in pipeline.ORDER:
        row(name, rel(env[f"REBOUND_{name.upper()}_LOG"]))
    row("stack", rel(stack["REBOUND_STACK_DIR"]), "kafka/, redis/, smtp/")


# --- main --------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(
        prog="scripts/quickstart",
        description="Runs the local stack and the four services, imports a real NPS export and "
                    "prints what the pipeline did.")
    ap.add_argument("--data", default=DEFAULT_DATA, help="CSV export to import "
                    "(default: ../shared/data/real/botanic-garden-centre-nps/nps.csv)")
    ap.add_argument("--mapping", default=DEFAULT_MAPPING,
                    help="mapping file (default: examples/mappings/botanic-garden-centre-nps.json)")
    ap.add_argument("--once", action="store_true",
                    help="stop everything and exit after the summary")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds to wait for the pipeline to drain (default 300)")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build", "ci"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", default=os.path.join(REPO, "build", "quickstart"),
                    help=argparse.SUPPRESS)
    ap.add_argument("--elapsed", type=int, default=0, help=argparse.SUPPRESS)
    # scripts/quickstart checks the options before it spends minutes on a build.
    ap.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.run_dir = os.path.abspath(args.run_dir)
    args.build_dir = os.path.abspath(args.build_dir)
    args.data = os.path.abspath(args.data)
    args.mapping = os.path.abspath(args.mapping)
    for what, path in (("--data", args.data), ("--mapping", args.mapping)):
        if not os.path.isfile(path):
            hint = ""
            if path == DEFAULT_DATA:
                hint = (" (the demo reads the shared data folder that lies beside the checkout; "
                        "give another export with --data FILE --mapping FILE)")
            print(f"scripts/quickstart: {what}: no such file: {path}{hint}", file=sys.stderr)
            return 2
    if args.check_only:
        return 0

    # SIGTERM ends the run like Ctrl-C: services and stack stop in order.
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # Explicitly: a shell that started us in the background may have left SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    run_dir = args.run_dir
    stack_dir = os.path.join(run_dir, "stack")
    stack_log = os.path.join(run_dir, "stack.log")
    os.makedirs(run_dir, exist_ok=True)
    t_start = time.monotonic()
    pipe = None
    stack_started = False
    summary_done = False
    rc = 0
    try:
        stack_started = True
        stack = start_stack(stack_dir, stack_log)

        t0 = time.monotonic()
        begin("services")
        pipe = pipeline.Pipeline(stack, os.path.join(run_dir, "services"),
                                 build_dir=args.build_dir, redis_prefix="rebound:")
        try:
            pipe.start(timeout=90)
        except pipeline.PipelineError as e:
            print("failed")
            raise QuickstartError(str(e))
        done(t0, "ingest, classifier, cases, notifier ready")
        for w in pipe.warnings:
            warn(w)
        env = dict(pipe.env_values())

        t0 = time.monotonic()
        begin(f"import {os.path.basename(args.data)}")
        if TTY:
            print()  # reboundctl's progress bar gets a line of its own
        rejects = os.path.join(run_dir, "rejects.csv")
        reboundctl = os.path.join(args.build_dir, "tools", "reboundctl", "reboundctl")
        imp = run_import(reboundctl, args.data, args.mapping, env["REBOUND_INGEST_ADDRESS"],
                         rejects, os.path.join(run_dir, "import.log"))
        if TTY:
            begin(f"import {os.path.basename(args.data)}")
        done(t0, f"{n(imp['accepted'])} of {n(imp['rows_read'])} rows accepted")

        label = "classify, open cases, send alerts"
        if not TTY:
            begin(label)
        figures = Figures(env, stack["REBOUND_SMTP_MAILDIR"])
        f, drained, drain_s = wait_drained(figures, imp["accepted"], args.timeout, label)
        if not drained:
            print("timed out")
            raise QuickstartError(
                f"not drained after {args.timeout:.0f} s: classified {n(f.classified)} of "
                f"{n(imp['accepted'])}, cases {n(f.cases_opened)} of "
                f"{n(f.detractors_published)} detractors, emails {n(f.emails)}; logs in "
                f"{rel(pipe.run_dir)}")
        print(f"ok ({drain_s:.0f} s)")

        stats, sample_case = case_service_figures(env["REBOUND_CASES_ADDRESS"],
                                                  os.path.join(run_dir, "proto-py"))
        png, png_note = None, ""
        path, html = pick_alert(stack["REBOUND_SMTP_MAILDIR"])
        if html is None:
            png_note = "no HTML alert found in the mail folder"
        else:
            png = render_png(html, os.path.join(run_dir, "alert.png"), run_dir)
            if not png:
                png_note = (f"install chromium (sudo apt-get install chromium) for a PNG; the "
                            f"HTML is in {rel(os.path.join(run_dir, 'alert.html'))}")
                with open(os.path.join(run_dir, "alert.html"), "w", encoding="utf-8") as out:
                    out.write(html)
        print_summary(args, imp, f, stats, env, stack, rejects, png, png_note, drain_s,
                      sample_case)
        summary_done = True
        print()
        if args.once:
            step("stopping (--once)")
        else:
            print(f"Everything runs until you press Ctrl-C "
                  f"(started in {args.elapsed + time.monotonic() - t_start:.0f} s).")
            while True:
                for name, s in pipe.services.items():
                    if s.proc is not None and s.proc.poll() is not None:
                        raise QuickstartError(f"{name} exited with status {s.proc.returncode}; "
                                              f"log: {rel(s.log)}")
                time.sleep(1)
    except KeyboardInterrupt:
        print()
        step("stopping")
        # Ctrl-C after the summary is the normal end of a run.
        rc = 0 if summary_done else 130
    except QuickstartError as e:
        print(f"{RED}error:{OFF} {e}", file=sys.stderr)
        rc = 1
    finally:
        # Ctrl-C pressed again while stopping must not leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if pipe is not None:
            codes = pipe.stop()
            bad = {k: v for k, v in codes.items() if v not in (0,)}
            if bad:
                warn("services that did not exit cleanly: " +
                     ", ".join(f"{k} ({'killed' if v is None else f'exit {v}'})"
                               for k, v in bad.items()))
        if stack_started and not stop_stack(stack_dir, stack_log):
            warn(f"the stack did not stop cleanly; see {rel(stack_log)}")
        if rc == 0 or rc == 130:
            print(f"    stopped services and stack; logs stay in {rel(run_dir)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
