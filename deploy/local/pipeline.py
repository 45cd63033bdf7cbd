#!/usr/bin/python3
"""Starts and stops the four Rebound services on a running local stack.

    deploy/local/pipeline.py start  --stack-env STACK/stack.env --dir DIR [--build-dir build/ci]
                                    [--redis-prefix P] [--topic-prefix T] [--partitions 4]
    deploy/local/pipeline.py stop   --dir DIR
    deploy/local/pipeline.py status --dir DIR

`start` creates the Kafka topics first (consumers that subscribe before a topic
exists only see it after their next metadata refresh), then starts
rebound-ingest, rebound-classifier, rebound-cases and rebound-notifier as
background processes on free loopback ports, all sharing one Redis key prefix
and one set of topics, waits until every /readyz answers 200 and writes
DIR/pipeline.env (shell-sourceable KEY=VALUE lines: the services' addresses,
topics, prefix, pids and log files) and DIR/pipeline.json. Each service logs
to DIR/<service>.log.

`stop` sends SIGTERM (the services drain and commit), waits, then SIGKILLs
whatever is left. It only touches processes that carry this folder's marker
variable, so a reused pid is never hit.

Also importable (tests/e2e, scripts/quickstart): Pipeline, read_env_file,
load_protos, http_get, metric_values.

Only the Python standard library is used (python3-grpcio and
python3-grpc-tools for load_protos).
"""

import argparse
import concurrent.futures
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KAFKA_CONF_DIR = os.path.join(HERE, "kafka")
# Every service gets this variable; `stop` uses it to check that a pid is still ours.
OWNER_VAR = "REBOUND_PIPELINE_OWNER"
STOP_GRACE_S = 25
DEFAULT_TOPICS = {
    "responses": "survey.responses.v1",
    "detractors": "survey.detractors.v1",
    "case_events": "case.events.v1",
}


class PipelineError(Exception):
    pass


def say(msg):
    print(f"pipeline: {msg}", file=sys.stderr, flush=True)


# --- small helpers ----------------------------------------------------------------


def read_env_file(path):
    """KEY=VALUE lines (shell quoting allowed, # comments) into a dict."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, raw = line.split("=", 1)
            parts = shlex.split(raw) if raw else [""]
            values[key.strip()] = parts[0] if parts else ""
    return values


def write_atomic(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def pick_ports(n):
    """n distinct free loopback ports (all sockets open until every port is chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(url, timeout=2.0):
    """(status, body text); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return 0, ""


def http_request(url, method="GET", data=None, headers=None, timeout=5.0):
    """(status, headers dict, body text) without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", errors="replace")


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metric_values(text, name):
    """Samples of one metric in Prometheus text format: [(labels dict, value)]."""
    out = []
    for line in text.splitlines():
        m = _METRIC_LINE.match(line)
        if not m or m.group(1) != name:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out.append((labels, float(m.group(3))))
        except ValueError:
            pass
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def owner_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    prefix = f"{OWNER_VAR}=".encode()
    for item in env:
        if item.startswith(prefix):
            return item[len(prefix):].decode(errors="replace")
    return None


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            lines = f.read()[-20000:].decode(errors="replace").splitlines()
        return "\n".join("    " + line for line in lines[-n:])
    except OSError:
        return "    (no log file)"


# --- Kafka topics -------------------------------------------------------------------


def kafka_libs():
    """The broker's jar folder, found the same way as deploy/local/stack does."""
    if os.environ.get("REBOUND_KAFKA_LIBS"):
        return os.environ["REBOUND_KAFKA_LIBS"]
    with open(os.path.join(KAFKA_CONF_DIR, "pom.xml"), encoding="utf-8") as f:
        version = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", f.read()).group(1)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "rebound", f"kafka-{version}", "libs")


def create_topics(brokers, topics, partitions, log_path=None):
    """Creates the topics (if missing) with the broker's own TopicCommand. It takes one
    topic per run and a JVM start costs about 1.5 s, so the runs go in parallel."""
    libs = kafka_libs()
    if not os.path.isdir(libs):
        raise PipelineError(f"Kafka jars missing in {libs}: run scripts/bootstrap")

    # The tool logs through the broker's log4j2 file: keep that file out of the caller's folder.
    logs_dir = os.path.dirname(log_path) if log_path else tempfile.gettempdir()

    def one(topic):
        argv = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-Xmx128m", "-Djava.awt.headless=true", f"-Dkafka.logs.dir={logs_dir}",
                f"-Dlog4j2.configurationFile={os.path.join(KAFKA_CONF_DIR, 'log4j2.properties')}",
                "-cp", os.path.join(libs, "*"), "org.apache.kafka.tools.TopicCommand",
                "--bootstrap-server", brokers, "--create", "--if-not-exists",
                "--topic", topic, "--partitions", str(partitions),
                "--replication-factor", "1"]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
        return topic, r.returncode, (r.stdout + r.stderr).strip()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(topics)) as pool:
        results = list(pool.map(one, topics))
    if log_path:
        with open(log_path, "a", encoding="utf-8") as f:
            for topic, rc, out in results:
                f.write(f"# {topic}: exit {rc}\n{out}\n")
    failed = [(t, rc, out) for t, rc, out in results if rc != 0]
    if failed:
        t, rc, out = failed[0]
        raise PipelineError(f"creating topic {t} failed (exit {rc}):\n{out[-2000:]}")


# --- the services ---------------------------------------------------------------------

# name -> (binary relative to the build dir, has a gRPC server)
SERVICES = {
    "ingest": ("services/ingest/rebound-ingest", True),
    "classifier": ("services/classifier/rebound-classifier", False),
    "cases": ("services/cases/rebound-cases", True),
    "notifier": ("services/notifier/rebound-notifier", False),
}
ORDER = ("ingest", "classifier", "cases", "notifier")


def declared_env_names(binary):
    """The REBOUND_* variables a binary declares, read from its --help (CLI11 prints
    "(Env:NAME)"); lets start() say when a setting would be silently ignored."""
    try:
        r = subprocess.run([binary, "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(re.findall(r"Env:\s*(REBOUND_[A-Z0-9_]+)", r.stdout + r.stderr))


class Service:
    def __init__(self, name, binary, grpc):
        self.name = name
        self.binary = binary
        self.has_grpc = grpc
        self.grpc_port = None
        self.http_port = None
        self.env = {}
        self.proc = None
        self.pid = None
        self.log = None

    @property
    def http_address(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self):
        return f"127.0.0.1:{self.grpc_port}" if self.grpc_port else ""


class Pipeline:
    """The four services on one stack. Use start()/stop(), or as a context manager."""

    def __init__(self, stack_env, run_dir, build_dir=None, redis_prefix=None, topic_prefix="",
                 partitions=4, log_format="text", log_level="info", extra_env=None,
                 base_url=None, only=None):
        self.stack = dict(stack_env)
        self.run_dir = os.path.abspath(run_dir)
        self.build_dir = os.path.abspath(build_dir or os.path.join(REPO, "build", "ci"))
        self.run_id = secrets.token_hex(4)
        self.redis_prefix = redis_prefix or f"rebound-{self.run_id}:"
        self.topics = {k: f"{topic_prefix}{v}" for k, v in DEFAULT_TOPICS.items()}
        self.partitions = partitions
        self.log_format = log_format
        self.log_level = log_level
        self.extra_env = extra_env or {}  # {service or "*": {KEY: VALUE}}
        self.base_url = base_url
        # One key for the links the notifier signs and the case service checks.
        self.link_keys = f"k{self.run_id}:{secrets.token_urlsafe(36)}"
        self.webhook_secret = secrets.token_urlsafe(24)
        # `only` starts a subset (for trying one service); the others keep no process.
        self.names = [n for n in ORDER if not only or n in only]
        self.services = {n: Service(n, os.path.join(self.build_dir, SERVICES[n][0]),
                                    SERVICES[n][1]) for n in ORDER}
        self.warnings = []

    # -- configuration ---------------------------------------------------------------

    def _group(self, svc):
        return f"{self.redis_prefix.rstrip(':')}-{svc}"

    def _service_env(self, svc):
        s = self.services[svc]
        cases = self.services["cases"]
        common = {
            "REBOUND_KAFKA_BROKERS": self.stack["REBOUND_KAFKA_BROKERS"],
            "REBOUND_REDIS_ADDRESS": self.stack["REBOUND_REDIS_ADDRESS"],
            "REBOUND_REDIS_PREFIX": self.redis_prefix,
            "REBOUND_HTTP_ADDRESS": s.http_address,
            "REBOUND_LOG_FORMAT": self.log_format,
            "REBOUND_LOG_LEVEL": self.log_level,
        }
        if s.has_grpc:
            common["REBOUND_GRPC_ADDRESS"] = s.grpc_address
        t = self.topics
        specific = {
            "ingest": {
                "REBOUND_RESPONSES_TOPIC": t["responses"],
                "REBOUND_WEBHOOK_SECRET": self.webhook_secret,
            },
            "classifier": {
                "REBOUND_RESPONSES_TOPIC": t["responses"],
                "REBOUND_DETRACTORS_TOPIC": t["detractors"],
                "REBOUND_CONSUMER_GROUP": self._group("classifier"),
                # The transactional id (<prefix>-<instance>) must be unique on the broker.
                "REBOUND_TRANSACTIONAL_ID_PREFIX": self._group("classifier"),
                "REBOUND_INSTANCE_ID": "0",
            },
            "cases": {
                "REBOUND_DETRACTORS_TOPIC": t["detractors"],
                "REBOUND_CASE_EVENTS_TOPIC": t["case_events"],
                "REBOUND_CONSUMER_GROUP": self._group("cases"),
                "REBOUND_LINK_KEYS": self.link_keys,
                "REBOUND_INSTANCE_ID": f"{self.run_id}-cases-0",
            },
            "notifier": {
                "REBOUND_CASE_EVENTS_TOPIC": t["case_events"],
                "REBOUND_CONSUMER_GROUP": self._group("notifier"),
                "REBOUND_LINK_KEYS": self.link_keys,
                "REBOUND_LINK_BASE_URL": self.base_url or f"http://{cases.http_address}",
                "REBOUND_SMTP_URL": self.stack["REBOUND_SMTP_URL"],
            },
        }[svc]
        env = {**common, **specific, **self.extra_env.get("*", {}), **self.extra_env.get(svc, {})}
        return env

    # -- start / stop ------------------------------------------------------------------

    def start(self, timeout=60, create_topics_first=True):
        os.makedirs(self.run_dir, exist_ok=True)
        for f in ("pipeline.env", "pipeline.json"):
            try:
                os.remove(os.path.join(self.run_dir, f))
            except FileNotFoundError:
                pass
        missing = [self.services[n].binary for n in self.names
                   if not os.access(self.services[n].binary, os.X_OK)]
        if missing:
            raise PipelineError("not built: " + ", ".join(os.path.relpath(m, REPO)
                                                          for m in missing))
        t0 = time.monotonic()
        if create_topics_first:
            create_topics(self.stack["REBOUND_KAFKA_BROKERS"], list(self.topics.values()),
                          self.partitions, os.path.join(self.run_dir, "topics.log"))
        self.topics_seconds = time.monotonic() - t0
        # All ports first: the notifier's links point at the case service's HTTP port.
        self._pick_ports(self.names)
        for name in self.names:  # each start begins a fresh log
            open(os.path.join(self.run_dir, f"{name}.log"), "w").close()
        try:
            for name in self.names:
                self._launch(self.services[name])
            self._wait_ready(timeout)
        except BaseException:
            self.stop(quiet=True)
            raise
        self._write_state()
        self.start_seconds = time.monotonic() - t0
        return self

    def _pick_ports(self, names):
        ports = pick_ports(2 * len(names))
        for i, name in enumerate(names):
            s = self.services[name]
            s.http_port = ports[2 * i]
            s.grpc_port = ports[2 * i + 1] if s.has_grpc else None

    def _launch(self, s):
        s.env = self._service_env(s.name)
        declared = declared_env_names(s.binary)
        if declared is not None:
            unknown = sorted(k for k in s.env if k not in declared)
            for k in unknown:
                self.warnings.append(f"{s.name}: {os.path.basename(s.binary)} declares no {k}")
        s.log = os.path.join(self.run_dir, f"{s.name}.log")
        env = dict(os.environ)
        # Settings of an outer shell must not leak into one service by accident.
        for k in list(env):
            if k.startswith("REBOUND_"):
                del env[k]
        env.update(s.env)
        env[OWNER_VAR] = self.run_dir
        with open(s.log, "ab") as log:
            # Own session: Ctrl-C in the caller's terminal reaches the caller only, which then
            # stops the services in order; no pipe of the caller stays open (ctest waits for
            # its test's pipes to close).
            s.proc = subprocess.Popen([s.binary], cwd=self.run_dir, env=env,
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        s.pid = s.proc.pid

    def _wait_ready(self, timeout):
        pending = list(self.names)
        retries = {n: 0 for n in ORDER}
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                s = self.services[name]
                if s.proc.poll() is not None:
                    text = tail(s.log, 200).lower()
                    if ("in use" in text or "could not bind" in text) and retries[name] < 3 \
                            and name != "cases":
                        # A port was taken between picking and binding. (Not for cases: the
                        # notifier's links already name its port; that start fails instead.)
                        retries[name] += 1
                        self._pick_ports([name])
                        self._launch(s)
                        continue
                    raise PipelineError(
                        f"{name} exited with status {s.proc.returncode} during start-up; "
                        f"log: {s.log}\n{tail(s.log)}")
                status, _ = http_get(f"http://{s.http_address}/readyz", timeout=1)
                if status == 200:
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                s = self.services[pending[0]]
                _, body = http_get(f"http://{s.http_address}/readyz", timeout=1)
                raise PipelineError(
                    f"{', '.join(pending)} not ready after {timeout:.0f} s "
                    f"(/readyz: {body.strip()[:200] or 'no answer'}); log: {s.log}\n{tail(s.log)}")
            if pending:
                time.sleep(0.1)

    def env_values(self):
        s = self.services
        values = [
            ("REBOUND_PIPELINE_DIR", self.run_dir),
            ("REBOUND_REDIS_PREFIX", self.redis_prefix),
            ("REBOUND_RESPONSES_TOPIC", self.topics["responses"]),
            ("REBOUND_DETRACTORS_TOPIC", self.topics["detractors"]),
            ("REBOUND_CASE_EVENTS_TOPIC", self.topics["case_events"]),
            # What reboundctl reads to find the two gRPC servers.
            ("REBOUND_INGEST_ADDRESS", s["ingest"].grpc_address),
            ("REBOUND_CASES_ADDRESS", s["cases"].grpc_address),
            ("REBOUND_INGEST_HTTP", f"http://{s['ingest'].http_address}"),
            ("REBOUND_CLASSIFIER_HTTP", f"http://{s['classifier'].http_address}"),
            ("REBOUND_CASES_HTTP", f"http://{s['cases'].http_address}"),
            ("REBOUND_NOTIFIER_HTTP", f"http://{s['notifier'].http_address}"),
            ("REBOUND_WEBHOOK_SECRET", self.webhook_secret),
        ]
        for name in ORDER:
            values.append((f"REBOUND_{name.upper()}_PID", str(s[name].pid)))
            values.append((f"REBOUND_{name.upper()}_LOG", s[name].log))
        return values

    def _write_state(self):
        lines = [f"{k}={shlex.quote(v)}" for k, v in self.env_values()]
        write_atomic(os.path.join(self.run_dir, "pipeline.env"),
                     "# Written by deploy/local/pipeline.py start; removed by stop.\n"
                     + "\n".join(lines) + "\n")
        state = {
            "redis_prefix": self.redis_prefix,
            "topics": self.topics,
            "services": {n: {"pid": s.pid, "http": s.http_address, "grpc": s.grpc_address,
                             "log": s.log, "binary": s.binary}
                         for n, s in self.services.items()},
        }
        write_atomic(os.path.join(self.run_dir, "pipeline.json"),
                     json.dumps(state, indent=1) + "\n")

    def stop(self, quiet=False):
        """SIGTERM to every service, then SIGKILL after the grace period. Returns the exit
        codes by service name (None when killed)."""
        procs = {n: s.proc for n, s in self.services.items() if s.proc is not None}
        codes = _stop_pids({n: p.pid for n, p in procs.items()}, self.run_dir, procs, quiet)
        for f in ("pipeline.env", "pipeline.json"):
            try:
                os.remove(os.path.join(self.run_dir, f))
            except FileNotFoundError:
                pass
        for s in self.services.values():
            s.proc = None
        return codes

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(quiet=True)


def _stop_pids(pids, run_dir, procs=None, quiet=False):
    """TERM, wait STOP_GRACE_S, KILL. `procs` (Popen objects) give exit codes when we are
    the parent; otherwise only liveness is known."""
    procs = procs or {}
    victims = {n: p for n, p in pids.items() if p and pid_alive(p) and
               (n in procs or owner_of(p) == run_dir)}
    for name, pid in victims.items():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def alive(name):
        if name in procs:
            return procs[name].poll() is None
        return pid_alive(victims[name])

    deadline = time.monotonic() + STOP_GRACE_S
    while any(alive(n) for n in victims) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = set()
    for name, pid in victims.items():
        if alive(name):
            if not quiet:
                say(f"{name} (pid {pid}) did not stop within {STOP_GRACE_S} s of SIGTERM: "
                    "killing it")
            killed.add(name)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    codes = {}
    for name in victims:
        if name in procs:
            try:
                codes[name] = procs[name].wait(timeout=10)
            except subprocess.TimeoutExpired:
                codes[name] = None
        else:
            codes[name] = None if name in killed else 0
        if name in killed:
            codes[name] = None
    return codes


# --- gRPC stubs ---------------------------------------------------------------------


def load_protos(out_dir):
    """Generates the rebound.v1 Python classes and gRPC stubs into out_dir and makes them
    importable. Returns a namespace of the modules (case, case_service, case_service_grpc,
    events, ...).

    Uses the system protoc (protobuf-compiler 3.21) with grpc_python_plugin
    (protobuf-compiler-grpc): the protoc inside Debian's python3-grpc-tools is 3.5, older than
    proto3 `optional`, which case.proto uses."""
    proto_root = os.path.join(REPO, "proto")
    out_dir = os.path.abspath(out_dir)
    files = sorted(os.path.join("rebound", "v1", f)
                   for f in os.listdir(os.path.join(proto_root, "rebound", "v1"))
                   if f.endswith(".proto"))
    os.makedirs(out_dir, exist_ok=True)
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        raise PipelineError("protoc and grpc_python_plugin are needed (Debian packages "
                            "protobuf-compiler and protobuf-compiler-grpc; scripts/bootstrap)")
    r = subprocess.run([protoc, f"-I{proto_root}", f"--python_out={out_dir}",
                        f"--plugin=protoc-gen-grpc_python={plugin}",
                        f"--grpc_python_out={out_dir}", *files],
                       cwd=proto_root, capture_output=True, text=True)
    if r.returncode != 0:
        raise PipelineError(f"generating the Python stubs of proto/rebound/v1 failed:\n{r.stderr}")
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    import importlib
    mods = {}
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0]
        mods[stem] = importlib.import_module(f"rebound.v1.{stem}_pb2")
        if os.path.exists(os.path.join(out_dir, "rebound", "v1", f"{stem}_pb2_grpc.py")):
            mods[f"{stem}_grpc"] = importlib.import_module(f"rebound.v1.{stem}_pb2_grpc")
    return argparse.Namespace(**mods)


# --- command line -------------------------------------------------------------------


def cmd_start(args):
    stack = read_env_file(args.stack_env)
    extra = {}
    for item in args.env or []:
        key, _, value = item.partition("=")
        svc, _, var = key.rpartition(":")
        extra.setdefault(svc or "*", {})[var] = value
    p = Pipeline(stack, args.dir, build_dir=args.build_dir, redis_prefix=args.redis_prefix,
                 topic_prefix=args.topic_prefix, partitions=args.partitions,
                 log_format=args.log_format, log_level=args.log_level, extra_env=extra)
    if _running_pids(p.run_dir):
        say(f"services from an earlier start still run in {p.run_dir}: stopping them first")
        cmd_stop(args)
    try:
        p.start(timeout=args.timeout)
    except PipelineError as e:
        say(f"start failed: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; services stopped")
        return 130
    for w in p.warnings:
        say(f"warning: {w}")
    for k, v in p.env_values():
        print(f"{k}={shlex.quote(v)}")
    say(f"ready in {p.start_seconds:.1f} s (topics {p.topics_seconds:.1f} s); "
        f"env file {os.path.join(p.run_dir, 'pipeline.env')}")
    return 0


def _running_pids(run_dir):
    try:
        with open(os.path.join(run_dir, "pipeline.json"), encoding="utf-8") as f:
            state = json.load(f)
        pids = {n: s["pid"] for n, s in state["services"].items()}
    except (OSError, ValueError, KeyError):
        pids = {}
    # Also services whose state file was never written (a start that failed half-way).
    for entry in os.listdir("/proc"):
        if entry.isdigit() and owner_of(int(entry)) == run_dir and pid_alive(int(entry)):
            if int(entry) not in pids.values():
                pids[f"process {entry}"] = int(entry)
    return {n: p for n, p in pids.items() if pid_alive(p) and owner_of(p) == run_dir}


def cmd_stop(args):
    run_dir = os.path.abspath(args.dir)
    pids = _running_pids(run_dir)
    codes = _stop_pids(pids, run_dir)
    for f in ("pipeline.env", "pipeline.json"):
        try:
            os.remove(os.path.join(run_dir, f))
        except FileNotFoundError:
            pass
    left = _running_pids(run_dir)
    if left:
        say(f"stop incomplete: still running {left}")
        return 1
    say(f"stopped ({', '.join(sorted(codes)) or 'nothing was running'}) in {run_dir}")
    return 0


def cmd_status(args):
    run_dir = os.path.abspath(args.dir)
    try:
        with open(os.path.join(run_dir, "pipeline.json"), encoding="utf-8") as f:
            state = json.load(f)["services"]
    except (OSError, ValueError, KeyError):
        state = {}
    up = 0
    for name in ORDER:
        info = state.get(name, {})
        pid = info.get("pid")
        alive = bool(pid and pid_alive(pid) and owner_of(pid) == run_dir)
        ready = alive and http_get(f"http://{info['http']}/readyz", timeout=1)[0] == 200
        up += ready
        print(f"{name:10} {'ready' if ready else 'running' if alive else 'stopped':8} "
              f"pid={pid or '-'} http={info.get('http') or '-'} grpc={info.get('grpc') or '-'} "
              f"log={info.get('log') or '-'}")
    return 0 if up == len(ORDER) else (3 if up == 0 else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("start", "stop", "status"))
    ap.add_argument("--dir", required=True, help="run folder: logs, pipeline.env (created)")
    ap.add_argument("--stack-env", help="the stack's env file (start)")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build", "ci"),
                    help="where the binaries were built (default: build/ci)")
    ap.add_argument("--redis-prefix", help="Redis key prefix (default: a new unique one)")
    ap.add_argument("--topic-prefix", default="", help="put before every topic name")
    ap.add_argument("--partitions", type=int, default=4, help="partitions of new topics")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for /readyz")
    ap.add_argument("--log-format", default="text", choices=("text", "json"))
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--env", action="append", metavar="[SERVICE:]KEY=VALUE",
                    help="extra environment for one service (or all); repeatable")
    args = ap.parse_args()
    if args.command == "start" and not args.stack_env:
        ap.error("start needs --stack-env")
    return {"start": cmd_start, "stop": cmd_stop, "status": cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
