#!/usr/bin/env python3
"""Checks every manifest in deploy/kubernetes/: each YAML document parses, has apiVersion,
kind and metadata.name, uses the API version its kind is served at, and every reference
between them resolves (service accounts, ConfigMaps mounted as volumes, volume mounts, role
bindings, selectors matching their pod template). Exits non-zero naming each problem.

    python3 deploy/kubernetes/check_manifests.py
    SPIFFE_BIN_DIR=target/debug python3 deploy/kubernetes/check_manifests.py  # also `validate`

scripts/test.sh runs it that way, after validating the manifests against Kubernetes' OpenAPI
schemas with kubernetes-validate (PyPI).
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

API = {
    "Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Service": "v1",
    "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
}

problems = []
docs = []
here = Path(__file__).resolve().parent
for path in sorted(here.glob("*.yaml")):
    for i, doc in enumerate(yaml.safe_load_all(path.read_text())):
        if doc is None:
            continue
        where = f"{path.name}#{i}"
        kind = doc.get("kind")
        if kind not in API:
            problems.append(f"{where}: unknown kind {kind!r}")
            continue
        if doc.get("apiVersion") != API[kind]:
            problems.append(f"{where}: {kind} is served at {API[kind]}, not {doc.get('apiVersion')}")
        name = (doc.get("metadata") or {}).get("name")
        if not name:
            problems.append(f"{where}: no metadata.name")
        docs.append((where, kind, doc))

def named(kind, ns=None):
    return {d["metadata"]["name"] for _, k, d in docs
            if k == kind and (ns is None or d["metadata"].get("namespace") == ns)}

for where, kind, doc in docs:
    ns = doc["metadata"].get("namespace")
    if kind not in ("Namespace", "ClusterRole", "ClusterRoleBinding") and ns not in named("Namespace"):
        problems.append(f"{where}: namespace {ns!r} is not defined")
    if kind in ("StatefulSet", "DaemonSet"):
        spec = doc["spec"]
        template = spec["template"]
        labels = template["metadata"].get("labels", {})
        for k, v in spec["selector"]["matchLabels"].items():
            if labels.get(k) != v:
                problems.append(f"{where}: selector {k}={v} does not match the pod template")
        pod = template["spec"]
        sa = pod.get("serviceAccountName")
        if sa and sa not in named("ServiceAccount", ns):
            problems.append(f"{where}: service account {sa!r} is not defined")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
        for v in volumes.values():
            cm = v.get("configMap", {}).get("name")
            if cm and cm not in named("ConfigMap", ns):
                problems.append(f"{where}: volume {v['name']} uses undefined ConfigMap {cm!r}")
        for c in pod["containers"]:
            if not c.get("image"):
                problems.append(f"{where}: container {c.get('name')} has no image")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes and m["name"] not in claims:
                    problems.append(f"{where}: mount {m['name']} has no volume")
    if kind == "ClusterRoleBinding":
        role = doc["roleRef"]["name"]
        if role not in named("ClusterRole"):
            problems.append(f"{where}: role {role!r} is not defined")
        for s in doc["subjects"]:
            if s["kind"] == "ServiceAccount" and s["name"] not in named("ServiceAccount", s.get("namespace")):
                problems.append(f"{where}: subject {s['name']!r} is not defined")

# The server needs TokenReview create and pod/node get for k8s_psat.
rules = [r for _, k, d in docs if k == "ClusterRole" and d["metadata"]["name"] == "spire-server-k8s-psat"
         for r in d.get("rules", [])]
def allowed(group, resource, verb):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)
for need in [("authentication.k8s.io", "tokenreviews", "create"), ("", "pods", "get"), ("", "nodes", "get")]:
    if not allowed(*need):
        problems.append(f"spire-server-k8s-psat lacks {need}")

# With SPIFFE_BIN_DIR (e.g. target/debug), the daemon configs in the ConfigMaps must pass the
# daemons' own `validate`.
bin_dir = os.environ.get("SPIFFE_BIN_DIR")
if bin_dir:
    for where, kind, doc in docs:
        if kind != "ConfigMap":
            continue
        for key, binary in (("server.conf", "spiffe-server"), ("agent.conf", "spiffe-agent")):
            text = doc.get("data", {}).get(key)
            if text is None:
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
                conf.write(text)
                conf.flush()
                run = subprocess.run([str(Path(bin_dir) / binary), "validate", "-config", conf.name],
                                     capture_output=True, text=True, timeout=60)
            if run.returncode != 0:
                problems.append(f"{where}: {key} fails `{binary} validate`: {run.stderr.strip()}")

for p in problems:
    print(p, file=sys.stderr)
print(f"{len(docs)} manifests, {len(problems)} problems")
sys.exit(1 if problems else 0)
