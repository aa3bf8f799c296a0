#!/usr/bin/env bash
# CTest: deploy/kubernetes/indexed-job.yaml is a valid Indexed Job whose
# worker command, run the way its pods run it (JOB_COMPLETION_INDEX 0..N-1 at
# once, the manifest's environment, /data on a temporary directory), makes
# every output exactly once.
#
#   tests/kubernetes/check_indexed_job.sh STYLIZE FIXTURE_IMAGE MANIFEST [FLAG...]
#
# kubectl parses the manifest client-side without a cluster (`kubectl label
# --local --dry-run=client -o json`: `apply`/`create --dry-run=client` need an
# API server for discovery, even with --validate=false). The structure
# (Indexed completion, podFailurePolicy, shard count = completions) is checked
# on kubectl's JSON. STYLIZE (the built executable) stands in for the image's
# `stylize`; the FLAGs are appended to the manifest's (the tiny test weights).
set -euo pipefail
worker="$(realpath "$1")" fixture="$(realpath "$2")" manifest="$(realpath "$3")"
shift 3  # the rest: flags appended to the manifest's (tiny weights and sizes for the test)

if ! command -v kubectl >/dev/null; then
  message="kubectl is missing: install kubernetes-client (scripts/setup.sh does)"
  [ "${STYLIZE_TESTS_REQUIRE_ALL:-0}" = 1 ] && { echo "FAIL: $message" >&2; exit 1; }
  echo "SKIP: $message" >&2
  exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# No cluster, no kubeconfig: kubectl must not try to reach one.
printf "apiVersion: v1\nkind: Config\n" >"$work/kubeconfig"
HOME="$work" KUBECONFIG="$work/kubeconfig" kubectl label --local --dry-run=client -o json -f "$manifest" \
  stylize-check=1 >"$work/objects.json"

# The checks, and the pods' command lines (one per index) for the run below.
python3 - "$work/objects.json" "$work/data" "$worker" "$@" >"$work/pods" <<'EOF'
import json, shlex, sys
text = open(sys.argv[1]).read()
decoder, objects, at = json.JSONDecoder(), [], 0
while at < len(text):  # kubectl prints a List, or one object after another
    while at < len(text) and text[at].isspace(): at += 1
    if at == len(text): break
    item, at = decoder.raw_decode(text, at)
    objects += item["items"] if item.get("kind") == "List" else [item]
def fail(message):
    sys.exit("indexed-job.yaml: " + message)
jobs = [o for o in objects if o["kind"] == "Job"]
claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
if len(jobs) != 1: fail("expected one Job, found %d" % len(jobs))
spec = jobs[0]["spec"]
pod = spec["template"]["spec"]
if spec.get("completionMode") != "Indexed": fail("completionMode must be Indexed")
if pod.get("restartPolicy") != "Never": fail("podFailurePolicy needs restartPolicy: Never")
(container,) = pod["containers"]
env = {e["name"]: e.get("value") for e in container.get("env", [])}
if env.get("STYLIZE_SHARD_COUNT") != str(spec["completions"]):
    fail("STYLIZE_SHARD_COUNT %r differs from completions %r" % (env.get("STYLIZE_SHARD_COUNT"), spec["completions"]))
actions = {}
for rule in spec["podFailurePolicy"]["rules"]:
    codes = rule.get("onExitCodes")
    if codes:
        if codes.get("containerName") != container["name"]: fail("a rule names container %r" % codes.get("containerName"))
        if codes["operator"] != "In": fail("exit-code rules use operator In")
        for code in codes["values"]: actions[code] = rule["action"]
    for condition in rule.get("onPodConditions", []):
        actions[condition["type"]] = rule["action"]
# A failed job stops its own pod only at the end of its shard, and the
# other shards not at all (README, "stylize batch"): FailIndex, not FailJob.
# Weights (4) are retried: a first-run download may fail for a while.
expected = {2: "FailJob", 3: "FailIndex", 6: "FailIndex", 8: "FailIndex",
            130: "Ignore", 143: "Ignore", "DisruptionTarget": "Ignore"}
if actions != expected: fail("podFailurePolicy maps %r, expected %r" % (actions, expected))
if not spec.get("backoffLimitPerIndex"): fail("FailIndex needs backoffLimitPerIndex")
volume = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
if not claims or claims[0]["metadata"]["name"] != volume: fail("the volume's claim %r is not in the file" % volume)
if "ReadWriteMany" not in claims[0]["spec"]["accessModes"]: fail("the shared volume must be ReadWriteMany")
mount = container["volumeMounts"][0]["mountPath"]
command = [sys.argv[3]] + container["command"][1:] + [a.replace(mount, sys.argv[2]) for a in container["args"]] + sys.argv[4:]
for index in range(spec["completions"]):
    variables = ["JOB_COMPLETION_INDEX=%d" % index] + ["%s=%s" % (k, v.replace(mount, sys.argv[2])) for k, v in env.items()]
    print(" ".join(shlex.quote(part) for part in variables + command))
EOF

# Every index at once, as the Job's pods run, on the manifest's folders.
mkdir -p "$work/data/photos" "$work/data/paintings"
for name in a b c; do cp "$fixture" "$work/data/photos/$name.ppm"; done
for name in x y z; do cp "$fixture" "$work/data/paintings/$name.ppm"; done
pids=()
index=0
while read -r line; do
  eval "env $line" >"$work/pod_$index.log" 2>&1 &
  pids+=($!)
  index=$((index + 1))
done <"$work/pods"
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { cat "$work/pod_$i.log"; echo "FAIL: pod $i exited $?" >&2; exit 1; }
done
for i in "${!pids[@]}"; do
  grep -q "shard $i/${#pids[@]} (JOB_COMPLETION_INDEX=$i)" "$work/pod_$i.log" || { cat "$work/pod_$i.log"; echo "FAIL: pod $i ran another shard" >&2; exit 1; }
done
outputs="$(find "$work/data/out" -name '*.png' | wc -l)"
[ "$outputs" -eq 9 ] || { echo "FAIL: expected 9 outputs, found $outputs" >&2; exit 1; }
written="$(cat "$work"/pod_*.log | grep -o "wrote $work/data/out/[a-z_]*.png" | sort || true)"
[ "$(wc -l <<<"$written")" -eq 9 ] && [ "$(uniq <<<"$written" | wc -l)" -eq 9 ] ||
  { echo "$written"; echo "FAIL: a job ran twice or not at all" >&2; exit 1; }
# Each output's record of its settings (.a_x.png.json) stays; claims and checkpoint records do not.
leftovers="$(find "$work/data/out" -name '*.lock*' -o \( -name '*.json' ! -name '.*.png.json' \))"
records="$(find "$work/data/out" -name '.*.png.json' | wc -l)"
[ "$records" -eq 9 ] || { echo "FAIL: expected 9 settings records, found $records" >&2; exit 1; }
[ -z "$leftovers" ] || { echo "FAIL: left behind: $leftovers" >&2; exit 1; }
echo "indexed-job.yaml: valid; ${#pids[@]} indexes made the 9 outputs once each"
