#!/usr/bin/env python3
"""Lints and renders helm/rebound with the default and the production-like values, then checks
the invariants a platform team relies on in every rendered manifest:

- every container has liveness and readiness probes, CPU and memory requests and limits;
- pods and containers run as non-root with a read-only root filesystem, no privilege
  escalation, all capabilities dropped and the RuntimeDefault seccomp profile;
- no image uses the "latest" tag (or no tag);
- every Deployment has a Service, a PodDisruptionBudget and (where enabled) an HPA;
- secrets reach containers only through secretKeyRef, never as plain values.

Usage: helm_test.py [path-to-helm]   (default: helm on PATH, else ~/go/bin/helm)
"""
import os
import shutil
import subprocess
import sys
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.path.join(ROOT, "helm", "rebound")
VALUE_SETS = {
    "default": [],
    "production": ["-f", os.path.join(CHART, "ci", "production-values.yaml")],
}
SECRET_ENV = {"REBOUND_WEBHOOK_SECRET", "REBOUND_LINK_KEYS", "REBOUND_API_TOKEN",
              "REBOUND_SMTP_PASSWORD", "REBOUND_REDIS_PASSWORD", "REBOUND_KAFKA_SASL_PASSWORD"}


def helm_binary():
    if len(sys.argv) > 1:
        return sys.argv.pop(1)
    found = shutil.which("helm")
    return found or os.path.expanduser("~/go/bin/helm")


HELM = helm_binary()


def run_helm(*args):
    return subprocess.run([HELM, *args], capture_output=True, text=True, check=False)


def render(values_args):
    result = run_helm("template", "rebound-ci", CHART, "--namespace", "rebound", *values_args)
    if result.returncode != 0:
        raise AssertionError(f"helm template failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pod_specs(docs):
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "Job":
            yield doc, doc["spec"]["template"]["spec"]


class HelmChartTest(unittest.TestCase):
    def test_lint_strict(self):
        for name, values in VALUE_SETS.items():
            with self.subTest(values=name):
                result = run_helm("lint", "--strict", CHART, *values)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_schema_rejects_bad_values(self):
        result = run_helm("template", "x", CHART, "--set", "image.tag=latest")
        self.assertNotEqual(result.returncode, 0, "tag 'latest' must be refused")
        result = run_helm("template", "x", CHART, "--set", "redis.address=nohostport")
        self.assertNotEqual(result.returncode, 0, "a Redis address without a port must be refused")

    def test_container_invariants(self):
        for name, values in VALUE_SETS.items():
            docs = render(values)
            for doc, spec in pod_specs(docs):
                who = f"{name}:{doc['kind']}/{doc['metadata']['name']}"
                pod_sc = spec.get("securityContext", {})
                self.assertTrue(pod_sc.get("runAsNonRoot"), who)
                self.assertEqual(pod_sc.get("seccompProfile", {}).get("type"), "RuntimeDefault",
                                 who)
                for c in spec["containers"]:
                    cwho = f"{who}/{c['name']}"
                    image = c["image"]
                    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
                    self.assertNotIn(tag, ("", "latest"), f"{cwho}: image {image}")
                    res = c.get("resources", {})
                    for kind in ("requests", "limits"):
                        for what in ("cpu", "memory"):
                            self.assertIn(what, res.get(kind, {}), f"{cwho}: {kind}.{what}")
                    sc = c.get("securityContext", {})
                    self.assertTrue(sc.get("readOnlyRootFilesystem"), cwho)
                    self.assertFalse(sc.get("allowPrivilegeEscalation", True), cwho)
                    self.assertTrue(sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot"), cwho)
                    self.assertEqual(sc.get("capabilities", {}).get("drop"), ["ALL"], cwho)
                    if doc["kind"] == "Deployment":
                        self.assertIn("livenessProbe", c, cwho)
                        self.assertIn("readinessProbe", c, cwho)
                    for env in c.get("env", []):
                        if env["name"] in SECRET_ENV:
                            self.assertIn("secretKeyRef", env.get("valueFrom", {}),
                                          f"{cwho}: {env['name']} must come from a Secret")

    def test_grace_period_exceeds_service_deadline(self):
        for name, values in VALUE_SETS.items():
            for doc, spec in pod_specs(render(values)):
                if doc["kind"] != "Deployment":
                    continue
                env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
                self.assertGreater(spec["terminationGracePeriodSeconds"],
                                   int(env["REBOUND_SHUTDOWN_GRACE_SECONDS"]))

    def test_every_deployment_has_service_and_pdb(self):
        for name, values in VALUE_SETS.items():
            docs = render(values)
            by_kind = {}
            for doc in docs:
                by_kind.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
            for deployment in by_kind["Deployment"]:
                self.assertIn(deployment, by_kind["Service"], f"{name}: {deployment}")
                self.assertIn(deployment, by_kind["PodDisruptionBudget"], f"{name}: {deployment}")
            self.assertEqual(len(by_kind["Deployment"]), 4)

    def test_production_values_use_existing_secret_and_sasl(self):
        docs = render(VALUE_SETS["production"])
        self.assertNotIn("Secret", {d["kind"] for d in docs}, "existingSecret: chart makes none")
        for doc, spec in pod_specs(docs):
            if doc["kind"] != "Deployment":
                continue
            env = {e["name"]: e for e in spec["containers"][0]["env"]}
            self.assertIn("sasl.mechanism=SCRAM-SHA-512", env["REBOUND_KAFKA_PROPERTIES"]["value"])
            self.assertEqual(
                env["REBOUND_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"],
                "rebound-secrets")


if __name__ == "__main__":
    unittest.main(verbosity=2)
