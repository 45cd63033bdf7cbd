#!/usr/bin/env python3
"""Keeps deploy/docker honest without a Docker engine:

- every COPY source in the Dockerfile exists in the build context (and .dockerignore does not
  drop it);
- every service the images are built for has a CMake executable target named
  rebound-<service>, and the config/templates folders the image copies exist;
- every REBOUND_* variable that the compose file, the Dockerfile or the rendered Helm chart
  sets is one that the code reads (a misspelt variable would otherwise be ignored silently);
- every variable the code reads is either given a default in the code or set by compose.
"""
import glob
import os
import re
import shutil
import subprocess
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(ROOT, "deploy", "docker", "Dockerfile")
COMPOSE = os.path.join(ROOT, "deploy", "docker", "compose.yaml")
SERVICES = ["ingest", "classifier", "cases", "notifier"]
# Variables the images read outside the C++ flags (none today); keep the list short and explained.
NON_FLAG_VARIABLES = {
    "REBOUND_SHARE_DIR",  # documents where config and templates lie inside the image
}


def source_files():
    for pattern in ("libs/**/*.cc", "libs/**/*.h", "services/**/*.cc", "services/**/*.h"):
        for path in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            if not path.endswith("_test.cc"):
                yield path


def variables_read_by_code():
    """Maps each REBOUND_* name given to CLI11's envname() to whether it is required."""
    found = {}
    for path in source_files():
        text = open(path, encoding="utf-8").read()
        for statement in re.split(r";\s*\n", text):
            for name in re.findall(r'envname\(\s*"(REBOUND_[A-Z0-9_]+)"', statement):
                found[name] = found.get(name, False) or "->required(" in statement
    return found


def dockerfile_copy_sources():
    text = open(DOCKERFILE, encoding="utf-8").read().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        yield from args[:-1]


def dockerignore_patterns():
    path = os.path.join(ROOT, ".dockerignore")
    lines = open(path, encoding="utf-8").read().splitlines()
    return [l.strip().rstrip("/") for l in lines if l.strip() and not l.startswith("#")]


def helm_env_names():
    helm = shutil.which("helm") or os.path.expanduser("~/go/bin/helm")
    chart = os.path.join(ROOT, "helm", "rebound")
    names = set()
    for extra in ([], ["-f", os.path.join(chart, "ci", "production-values.yaml")]):
        out = subprocess.run([helm, "template", "x", chart, *extra], check=True,
                             capture_output=True, text=True).stdout
        for doc in yaml.safe_load_all(out):
            if doc and doc["kind"] == "Deployment":
                for c in doc["spec"]["template"]["spec"]["containers"]:
                    names.update(e["name"] for e in c.get("env", []))
    return names


class DockerFilesTest(unittest.TestCase):
    def test_copy_sources_exist_and_are_not_ignored(self):
        ignored = dockerignore_patterns()
        sources = list(dockerfile_copy_sources())
        self.assertGreater(len(sources), 3)
        for src in sources:
            self.assertTrue(os.path.exists(os.path.join(ROOT, src)), f"COPY {src}: missing")
            self.assertNotIn(src.rstrip("/"), ignored, f"COPY {src}: excluded by .dockerignore")

    def test_binaries_match_cmake_targets(self):
        dockerfile = open(DOCKERFILE, encoding="utf-8").read()
        self.assertIn("--target rebound-${SERVICE}", dockerfile)
        self.assertIn("services/${SERVICE}/rebound-${SERVICE}", dockerfile)
        compose = yaml.safe_load(open(COMPOSE, encoding="utf-8"))
        for service in SERVICES:
            cmake = open(os.path.join(ROOT, "services", service, "CMakeLists.txt")).read()
            self.assertRegex(cmake, rf"NAME\s+rebound-{service}\b",
                             f"services/{service}/CMakeLists.txt builds no rebound-{service}")
            build = compose["services"][service]["build"]
            self.assertEqual(build["args"]["SERVICE"], service)

    def test_variables_set_by_deployments_are_read_by_code(self):
        read = variables_read_by_code()
        self.assertIn("REBOUND_KAFKA_BROKERS", read, "found no envname() in the sources")
        compose = yaml.safe_load(open(COMPOSE, encoding="utf-8"))
        set_by = {}
        for name, svc in compose["services"].items():
            for var in (svc.get("environment") or {}):
                set_by.setdefault(var, f"compose service {name}")
        for var in re.findall(r"\b(REBOUND_[A-Z0-9_]+)=", open(DOCKERFILE).read()):
            set_by.setdefault(var, "Dockerfile")
        for var in helm_env_names():
            set_by.setdefault(var, "Helm chart")
        for var, where in sorted(set_by.items()):
            if var.startswith("REBOUND_") and var not in NON_FLAG_VARIABLES:
                self.assertIn(var, read, f"{where} sets {var}, which no service reads")

    def test_required_variables_are_set(self):
        compose = yaml.safe_load(open(COMPOSE, encoding="utf-8"))
        set_somewhere = set()
        for svc in compose["services"].values():
            set_somewhere.update(svc.get("environment") or {})
        for var, required in variables_read_by_code().items():
            if required:
                self.assertIn(var, set_somewhere, f"{var} has no default and compose sets none")


if __name__ == "__main__":
    unittest.main(verbosity=2)
