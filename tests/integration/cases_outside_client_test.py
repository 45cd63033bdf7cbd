#!/usr/bin/env python3
"""rebound-cases seen from outside the C++ code base.

Starts rebound-cases as a child process against the local stack (Kafka and Redis from the file
named by REBOUND_STACK_ENV) with its own Redis prefix, topics and consumer group, produces one
DetractorIdentified with kcat, and then drives the service the way another team would:

- grpcurl, knowing nothing but the address: server reflection lists and describes the services,
  and GetCase, ListCases and UpdateResolution take and give JSON (the case opened, the
  resolution changes, the version goes up, a stale expected_version answers FailedPrecondition
  and changes nothing, a mutation without the bearer token is refused). Health/Check answers
  SERVING; for it grpcurl gets the standard health.proto as well, because gRPC C++ serves the
  health service without a descriptor for reflection to hand out;
- Python grpcio with classes generated from proto/ at start-up: ListCases finds the case.

Finally SIGTERM must end the service with exit code 0.

Usage: cases_outside_client_test.py PATH-TO-rebound-cases
Run with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf). The classes come from
Debian's protoc with grpc_python_plugin, or else from python3 -m grpc_tools.protoc. Needs kcat
and grpcurl (PATH or ~/go/bin); without grpcurl the grpcurl checks are skipped and the script
exits 77, which ctest reports as skipped.
"""
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
import unittest
import urllib.error
import urllib.request
import uuid

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "proto")
API_TOKEN = "outside-client-token"
SKIP_EXIT_CODE = 77


def cases_binary():
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        return os.path.abspath(sys.argv.pop(1))
    return os.environ.get("REBOUND_CASES_BINARY", "")


CASES_BINARY = cases_binary()


def find_grpcurl():
    found = shutil.which("grpcurl")
    if found:
        return found
    candidate = os.path.join(os.path.expanduser("~"), "go", "bin", "grpcurl")
    return candidate if os.access(candidate, os.X_OK) else None


GRPCURL = find_grpcurl()


def read_stack_env():
    path = os.environ.get("REBOUND_STACK_ENV", "")
    values = {}
    if not path or not os.path.exists(path):
        return values
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key.strip()] = value
    return values


def free_port():
    # The port is released before the service binds it; the window is short and every test
    # process asks the kernel for a fresh one, so collisions are unlikely enough for tests.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, interval=0.1):
    """Calls condition until it returns something truthy or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def snake_case_keys(value):
    """JSON from grpcurl with proto field names, whichever naming the grpcurl build prints."""
    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", k).lower(): snake_case_keys(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [snake_case_keys(v) for v in value]
    return value


def generate_python_classes(out_dir):
    """Compiles proto/rebound/v1/*.proto into out_dir and makes the modules importable."""
    v1 = os.path.join(PROTO_DIR, "rebound", "v1")
    sources = sorted(os.path.join(v1, name) for name in os.listdir(v1) if name.endswith(".proto"))
    outputs = [f"-I{PROTO_DIR}", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    protoc_binary = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc_binary and plugin:
        # Debian 12's grpc_tools bundles protoc 3.5, which cannot read proto3 "optional" fields
        # (case.proto has one). Debian's protoc 3.21 and gRPC's Python plugin (both installed by
        # bootstrap) can, and match the python3-protobuf runtime.
        command = [protoc_binary, f"--plugin=protoc-gen-grpc_python={plugin}"] + outputs + sources
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"protoc failed: {result.stderr}")
    else:
        # A newer python3-grpc-tools (protoc 3.15 or later) reads them on its own.
        import grpc_tools  # pylint: disable=import-outside-toplevel
        from grpc_tools import protoc  # pylint: disable=import-outside-toplevel

        well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        if protoc.main(["grpc_tools.protoc", f"-I{well_known}"] + outputs + sources) != 0:
            raise RuntimeError("python3 -m grpc_tools.protoc failed on the files in proto/")
    sys.path.insert(0, out_dir)
    PB.events = importlib.import_module("rebound.v1.events_pb2")
    PB.service = importlib.import_module("rebound.v1.case_service_pb2")
    PB.stubs = importlib.import_module("rebound.v1.case_service_pb2_grpc")


# The standard gRPC health API. gRPC C++ serves its built-in health service without registering a
# descriptor, so reflection lists grpc.health.v1.Health but cannot describe it; a client that
# calls it by name brings this definition along (grpcurl -proto ... -use-reflection).
HEALTH_PROTO = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"""

# The generated modules, filled in by generate_python_classes.
PB = types.SimpleNamespace(events=None, service=None, stubs=None)


class CasesOutsideClientTest(unittest.TestCase):
    """One rebound-cases child and one detractor shared by every test of the class."""

    @classmethod
    def setUpClass(cls):
        cls.process = None
        cls.log = None
        cls.work = tempfile.TemporaryDirectory(prefix="cases-outside-")
        # Class cleanups run even when setUpClass fails half-way (tearDownClass does not).
        cls.addClassCleanup(cls.work.cleanup)
        stack = read_stack_env()
        brokers = stack.get("REBOUND_KAFKA_BROKERS")
        redis = stack.get("REBOUND_REDIS_ADDRESS")
        if not brokers or not redis:
            raise RuntimeError("no stack environment: REBOUND_STACK_ENV='%s' (run through ctest so "
                               "the stack fixture starts Kafka and Redis)"
                               % os.environ.get("REBOUND_STACK_ENV", ""))
        if not CASES_BINARY or not os.access(CASES_BINARY, os.X_OK):
            raise RuntimeError(f"rebound-cases binary not found: '{CASES_BINARY}'")

        generate_python_classes(cls.work.name)
        cls.health_dir = os.path.join(cls.work.name, "health")
        os.makedirs(os.path.join(cls.health_dir, "grpc", "health", "v1"))
        with open(os.path.join(cls.health_dir, "grpc", "health", "v1", "health.proto"), "w",
                  encoding="utf-8") as f:
            f.write(HEALTH_PROTO)

        unique = uuid.uuid4().hex[:12]
        cls.prefix = f"cases-outside-{unique}:"
        cls.detractors_topic = f"cases-outside-detractors-{unique}"
        cls.account_id = f"acct-outside-{unique}"
        cls.response_id = f"resp-outside-{unique}"

        # Producing first creates the topic (the stack broker auto-creates topics), so the
        # service's consumer finds it on its first metadata request; the consumer starts from
        # the earliest offset and reads the record once it joins the group.
        cls.produce_detractor(brokers)

        cls.grpc_address = f"127.0.0.1:{free_port()}"
        cls.http_address = f"127.0.0.1:{free_port()}"
        env = dict(os.environ)
        env.update({
            "REBOUND_KAFKA_BROKERS": brokers,
            "REBOUND_REDIS_ADDRESS": redis,
            "REBOUND_REDIS_PREFIX": cls.prefix,
            "REBOUND_DETRACTORS_TOPIC": cls.detractors_topic,
            "REBOUND_CASE_EVENTS_TOPIC": f"cases-outside-events-{unique}",
            "REBOUND_CONSUMER_GROUP": f"cases-outside-group-{unique}",
            "REBOUND_GRPC_ADDRESS": cls.grpc_address,
            "REBOUND_HTTP_ADDRESS": cls.http_address,
            "REBOUND_API_TOKEN": API_TOKEN,
            "REBOUND_INSTANCE_ID": f"outside-{unique}",
            "REBOUND_OUTBOX_INTERVAL_MS": "50",
            "REBOUND_LOG_FORMAT": "text",
            "REBOUND_SHUTDOWN_GRACE_SECONDS": "8",
        })
        cls.log_path = os.path.join(cls.work.name, "rebound-cases.log")
        cls.log = open(cls.log_path, "wb")  # pylint: disable=consider-using-with
        cls.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [CASES_BINARY], env=env, stdout=cls.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        cls.addClassCleanup(cls.stop_service)
        if not wait_for(cls.ready, 20):
            raise RuntimeError("rebound-cases did not become ready:\n" + cls.log_tail())

        # The case id is derived inside the service; ListCases by account finds it without
        # repeating the derivation here.
        cls.case_id = wait_for(cls.find_case_id, 20, interval=0.2)
        if not cls.case_id:
            raise RuntimeError("no case opened for the detractor:\n" + cls.log_tail())

    @classmethod
    def tearDownClass(cls):
        code = cls.stop_service()
        if code != 0:
            raise AssertionError(f"rebound-cases exited with {code} on SIGTERM, expected 0:\n"
                                 + cls.log_tail())

    @classmethod
    def stop_service(cls):
        if cls.process is None:
            return None
        process, cls.process = cls.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = "killed after 15 s without exiting"
        cls.log.close()
        return code

    @classmethod
    def log_tail(cls, lines=40):
        try:
            with open(cls.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    @classmethod
    def ready(cls):
        if cls.process.poll() is not None:
            raise RuntimeError(f"rebound-cases exited with {cls.process.returncode} during "
                               "start-up:\n" + cls.log_tail())
        try:
            with urllib.request.urlopen(f"http://{cls.http_address}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    @classmethod
    def produce_detractor(cls, brokers):
        now = time.time()
        detractor = PB.events.DetractorIdentified(event_id="det-" + cls.response_id)
        response = detractor.response
        response.response_id = cls.response_id
        response.score = 3
        response.reason = "Nobody answered our two support tickets"
        response.respondent_key = "respondent-" + cls.response_id
        response.respondent.full_name = "Sample Respondent"
        response.account.account_id = cls.account_id
        response.account.name = "Sample Account Ltd"
        # From the top down: the last link owns the follow-up.
        response.owner_chain.add(name="Director Two", role="Director")
        response.owner_chain.add(name="Manager One", role="Account Manager")
        response.tags.append("outside-client")
        response.submitted_at.FromSeconds(int(now))
        detractor.assessment.category = 1  # CATEGORY_DETRACTOR
        detractor.assessment.priority = 2  # PRIORITY_HIGH
        detractor.assessment.due_at.FromSeconds(int(now) + 4 * 3600)
        detractor.classified_at.FromSeconds(int(now))

        # kcat sends each file named after the options as one message, whatever bytes it holds
        # (stdin would be split at newlines, which serialized protobuf may contain).
        payload = os.path.join(cls.work.name, "detractor.bin")
        with open(payload, "wb") as f:
            f.write(detractor.SerializeToString())
        sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        command = ["kcat", "-P", "-b", brokers, "-t", cls.detractors_topic, "-k", cls.account_id,
                   "-H", "ce_specversion=1.0", "-H", "ce_id=" + detractor.event_id,
                   "-H", "ce_type=rebound.v1.DetractorIdentified",
                   "-H", "ce_source=cases-outside-client-test", "-H", "ce_time=" + sent_at,
                   "-H", "content-type=application/x-protobuf", payload]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"kcat failed ({result.returncode}): {result.stderr}")

    @classmethod
    def find_case_id(cls):
        """ListCases through the generated Python stub; the case id once the case exists."""
        with grpc.insecure_channel(cls.grpc_address) as channel:
            stub = PB.stubs.CaseServiceStub(channel)
            try:
                reply = stub.ListCases(PB.service.ListCasesRequest(account_id=cls.account_id),
                                       timeout=5)
            except grpc.RpcError:
                return None
        return reply.cases[0].case_id if len(reply.cases) == 1 else None

    # --- grpcurl helpers -------------------------------------------------------------------

    def grpcurl(self, *args, data=None, token=None, health_proto=False, format_error=False):
        """Runs grpcurl against the service; returns (exit code, stdout, stderr)."""
        command = [GRPCURL, "-plaintext", "-max-time", "10"]
        if format_error:
            command.append("-format-error")
        if health_proto:
            command += ["-import-path", self.health_dir, "-proto", "grpc/health/v1/health.proto",
                        "-use-reflection"]
        if token:
            command += ["-H", f"authorization: Bearer {token}"]
        if data is not None:
            command += ["-d", json.dumps(data)]
        command += [self.grpc_address] + list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        return result.returncode, result.stdout, result.stderr

    def call(self, method, data, token=None, health_proto=False):
        code, out, err = self.grpcurl(method, data=data, token=token, health_proto=health_proto)
        self.assertEqual(code, 0, f"{method} failed: {err}")
        return snake_case_keys(json.loads(out))

    def call_error(self, method, data, token=None):
        """Calls a method expected to fail; returns the status as JSON {code, message}."""
        code, out, err = self.grpcurl(method, data=data, token=token, format_error=True)
        self.assertNotEqual(code, 0, f"{method} unexpectedly succeeded: {out}")
        try:
            return json.loads(err)
        except json.JSONDecodeError:
            self.fail(f"{method}: grpcurl exited {code} without a JSON status: {err} {out}")

    def require_grpcurl(self):
        if GRPCURL is None:
            self.skipTest("grpcurl not found on PATH or in ~/go/bin (scripts/bootstrap installs "
                          "it)")

    # --- tests -----------------------------------------------------------------------------

    def test_reflection_lists_case_and_health_services(self):
        self.require_grpcurl()
        code, out, err = self.grpcurl("list")
        self.assertEqual(code, 0, err)
        services = out.split()
        self.assertIn("rebound.v1.CaseService", services)
        self.assertIn("grpc.health.v1.Health", services)

        code, out, err = self.grpcurl("list", "rebound.v1.CaseService")
        self.assertEqual(code, 0, err)
        for method in ("GetCase", "ListCases", "UpdateResolution", "AddNote", "WatchCases",
                       "GetStats"):
            self.assertIn("rebound.v1.CaseService." + method, out.split())

    def test_reflection_describes_case_service_and_messages(self):
        self.require_grpcurl()
        code, out, err = self.grpcurl("describe", "rebound.v1.CaseService")
        self.assertEqual(code, 0, err)
        self.assertIn("rebound.v1.CaseService is a service", out)
        self.assertIn("rpc UpdateResolution ( .rebound.v1.UpdateResolutionRequest ) returns "
                      "( .rebound.v1.UpdateResolutionResponse );", out)
        self.assertIn("rpc WatchCases ( .rebound.v1.WatchCasesRequest ) returns "
                      "( stream .rebound.v1.WatchCasesResponse );", out)

        # Message types come through reflection too (the client has no .proto files).
        code, out, err = self.grpcurl("describe", "rebound.v1.UpdateResolutionRequest")
        self.assertEqual(code, 0, err)
        self.assertIn("int64 expected_version = 5;", out)
        self.assertIn(".rebound.v1.Resolution resolution = 2;", out)

    def test_health_check_is_serving(self):
        self.require_grpcurl()
        self.assertEqual(self.call("grpc.health.v1.Health/Check", {}, health_proto=True),
                         {"status": "SERVING"})
        self.assertEqual(
            self.call("grpc.health.v1.Health/Check", {"service": "rebound.v1.CaseService"},
                      health_proto=True),
            {"status": "SERVING"})

    def test_get_case_returns_the_opened_case_as_json(self):
        self.require_grpcurl()
        case = self.call("rebound.v1.CaseService/GetCase", {"case_id": self.case_id})["case"]
        self.assertEqual(case["case_id"], self.case_id)
        self.assertGreaterEqual(int(case["version"]), 1)
        self.assertEqual(case["owner"], "Manager One")
        self.assertEqual(case["owner_index"], 1)
        self.assertEqual(case["priority"], "PRIORITY_HIGH")
        self.assertEqual(len(case["responses"]), 1)
        self.assertEqual(case["responses"][0]["response_id"], self.response_id)
        self.assertEqual(case["responses"][0]["account"]["account_id"], self.account_id)
        self.assertEqual(case["history"][0]["kind"], "opened")
        self.assertIn("opened_at", case)
        self.assertIn("due_at", case)

        status = self.call_error("rebound.v1.CaseService/GetCase",
                                 {"case_id": "case-00000000000000000000"})
        self.assertEqual(status["code"], 5, status)  # NOT_FOUND

    def test_list_cases_filters_by_account_through_reflection(self):
        self.require_grpcurl()
        listed = self.call("rebound.v1.CaseService/ListCases",
                           {"account_id": self.account_id, "state": "CASE_STATE_FILTER_OPEN",
                            "order": "CASE_ORDER_DUE_FIRST", "page_size": 10})
        self.assertEqual([c["case_id"] for c in listed.get("cases", [])], [self.case_id])
        # An account nobody used: an empty page (grpcurl leaves the empty list out).
        listed = self.call("rebound.v1.CaseService/ListCases",
                           {"account_id": "acct-nobody-" + uuid.uuid4().hex})
        self.assertEqual(listed.get("cases", []), [])

    def test_list_cases_with_generated_python_stub(self):
        with grpc.insecure_channel(self.grpc_address) as channel:
            stub = PB.stubs.CaseServiceStub(channel)
            reply = stub.ListCases(
                PB.service.ListCasesRequest(account_id=self.account_id, tag="OUTSIDE-CLIENT"),
                timeout=10)
            self.assertEqual([c.case_id for c in reply.cases], [self.case_id])
            self.assertEqual(reply.cases[0].responses[0].response_id, self.response_id)
            self.assertEqual(reply.next_page_token, "")

            with self.assertRaises(grpc.RpcError) as raised:
                stub.ListCases(PB.service.ListCasesRequest(page_size=-1), timeout=10)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_update_resolution_bumps_version_and_rejects_stale_version(self):
        self.require_grpcurl()
        method = "rebound.v1.CaseService/UpdateResolution"
        before = self.call("rebound.v1.CaseService/GetCase", {"case_id": self.case_id})["case"]
        version = int(before["version"])

        # Without the bearer token a mutation is refused and changes nothing.
        status = self.call_error(method, {"case_id": self.case_id,
                                          "resolution": "RESOLUTION_IN_PROGRESS",
                                          "actor": "outside-client"})
        self.assertEqual(status["code"], 16, status)  # UNAUTHENTICATED

        updated = self.call(method, {"case_id": self.case_id,
                                     "resolution": "RESOLUTION_IN_PROGRESS",
                                     "actor": "outside-client", "note": "Called the account",
                                     "expected_version": str(version)},
                            token=API_TOKEN)["case"]
        self.assertEqual(updated["resolution"], "RESOLUTION_IN_PROGRESS")
        self.assertEqual(int(updated["version"]), version + 1)
        self.assertNotIn("closed", updated)
        last = updated["history"][-1]
        self.assertEqual(last["actor"], "outside-client")
        self.assertEqual(last["to_resolution"], "RESOLUTION_IN_PROGRESS")
        self.assertEqual(int(last["sequence"]), version + 1)

        # The version the change was based on is stale now.
        status = self.call_error(method, {"case_id": self.case_id,
                                          "resolution": "RESOLUTION_RESOLVED",
                                          "actor": "outside-client",
                                          "expected_version": str(version)},
                                 token=API_TOKEN)
        self.assertEqual(status["code"], 9, status)  # FAILED_PRECONDITION
        self.assertIn("expected_version", status["message"])
        after = self.call("rebound.v1.CaseService/GetCase", {"case_id": self.case_id})["case"]
        self.assertEqual(after["resolution"], "RESOLUTION_IN_PROGRESS")
        self.assertEqual(int(after["version"]), version + 1)

        # With the current version it goes through and closes the case.
        closed = self.call(method, {"case_id": self.case_id, "resolution": "RESOLUTION_RESOLVED",
                                    "actor": "outside-client",
                                    "expected_version": str(version + 1)},
                           token=API_TOKEN)["case"]
        self.assertEqual(closed["resolution"], "RESOLUTION_RESOLVED")
        self.assertTrue(closed["closed"])
        self.assertEqual(int(closed["version"]), version + 2)


def main():
    started = time.monotonic()
    program = unittest.main(exit=False, verbosity=2)
    result = program.result
    print(f"took {time.monotonic() - started:.1f} s")
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        sys.exit(SKIP_EXIT_CODE)
    sys.exit(0)


if __name__ == "__main__":
    main()
