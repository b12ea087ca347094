#!/usr/bin/env bash
# The cluster recipes on a real (single-node) Slurm: starts munge, slurmctld and slurmd on localhost in a
# temporary folder (Debian's slurm-wlm and munge; run as root, as CI does), submits
# deploy/slurm-batch.sh as a 3-task array over a folder of patches and deploy/slurm-slide.sh as a
# 3-task array over the test slide, merges each with `xai merge`, and compares with one run on one
# machine: every result (input × method, tile) once, the same probabilities.
#
#   tests/slurm/slurm_cluster_test.sh BUILD/xai
set -euo pipefail
XAI_BIN=$(readlink -f "${1:?usage: slurm_cluster_test.sh PATH/TO/xai}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
for tool in munged slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm test: $tool is missing (apt-get install slurm-wlm munge)"; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "slurm test: slurmd and munged are started as root here"; exit 1; }

W=$(mktemp -d /tmp/xai-slurm-XXXXXX)
cleanup() {
  scancel --quiet --full --signal=KILL --user=root 2>/dev/null || true
  for pid in "$W/slurmd.pid" "$W/slurmctld.pid" "$W/munge/munged.pid"; do
    [[ -f $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  sleep 1
  rm -rf "$W"
}
trap cleanup EXIT

# munge with its own key, socket and logs.
mkdir -p "$W/munge" "$W/state" "$W/spool" "$W/log"
chmod 700 "$W/munge"
dd if=/dev/urandom of="$W/munge/munge.key" bs=128 count=1 status=none
chmod 600 "$W/munge/munge.key"
munged --force --key-file="$W/munge/munge.key" --socket="$W/munge/munge.socket" --pid-file="$W/munge/munged.pid" \
  --log-file="$W/log/munged.log" --seed-file="$W/munge/seed"

# Ports from the process id, so two checkouts on one machine do not collide.
port=$((20000 + ($$ % 20000) * 2))
host=$(hostname)
memory=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat >"$W/slurm.conf" <<EOF
ClusterName=xaitest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$W/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=xai Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$W/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o '%T' 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o '%T' | grep -q idle || { echo "slurm test: the node did not come up"; tail -20 "$W"/log/*.log; exit 1; }
echo "slurm test: single-node cluster up ($host, $(nproc) CPUs)"

# The scripts as written, with only what this one small node can give instead of their 4 CPUs / 8 GB.
submit() {
  sbatch --wait --array=0-2 --cpus-per-task=1 --mem=2G --output="$W/log/%x-%A_%a.log" \
    --export=ALL,XAI="$XAI_BIN" "$@" >/dev/null || { tail -20 "$W"/log/xai-*.log; exit 1; }
}
cd "$ROOT"

# Batch: 12 synthetic patches, three shards, merged; against one run.
$PY scripts/synth_patches.py --out "$W/patches" --count 12 --seed 3 >/dev/null
submit deploy/slurm-batch.sh "$W/patches/images" "$W/batch" models/demo-histo.pt
"$XAI_BIN" -q merge "$W"/batch/shard-* -o "$W/batch-merged"
"$XAI_BIN" -q batch --model models/demo-histo.pt --method gradcam,lime -o "$W/batch-single" "$W/patches/images"
$PY - "$W/batch-merged/results.jsonl" "$W/batch-single/results.jsonl" <<'EOF'
import json, sys
def read(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        key = (r["input"], r["method"])
        assert key not in out, f"{key} twice in {path}"
        out[key] = r
    return out
merged, single = read(sys.argv[1]), read(sys.argv[2])
assert merged.keys() == single.keys(), (sorted(merged), sorted(single))
for key, r in single.items():
    assert merged[key]["status"] == r["status"] == "ok", key
    assert merged[key]["label"] == r["label"], key
    assert abs(merged[key]["probability"] - r["probability"]) < 1e-5, key
print(f"slurm test: batch: 3 array tasks merged = one run ({len(single)} results)")
EOF

# Slide: the test slide's tiles in three shards, merged (maps, tiles, top tiles, viewer); against one run.
$PY scripts/make_test_slide.py "$W/slide.tif" >/dev/null
submit deploy/slurm-slide.sh "$W/slide.tif" "$W/slide" models/demo-histo.pt
"$XAI_BIN" -q merge "$W"/slide/shard-* -o "$W/slide-merged"
"$XAI_BIN" -q slide "$W/slide.tif" --model models/demo-histo.pt --method gradcam --top-tiles 5 -o "$W/slide-single"
$PY - "$W/slide-merged" "$W/slide-single" <<'EOF'
import csv, json, os, sys
import numpy as np
merged, single = sys.argv[1], sys.argv[2]
for name in ("probability-malignant.npy", "map-gradcam.npy"):
    a, b = np.load(os.path.join(merged, name)), np.load(os.path.join(single, name))
    assert a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b)), name
    assert np.nanmax(np.abs(a - b)) < 1e-5, (name, np.nanmax(np.abs(a - b)))
rows = lambda d: {(r["column"], r["row"]) for r in csv.DictReader(open(os.path.join(d, "tiles.csv")))}
assert rows(merged) == rows(single)
top = lambda d: [t["tile"] for t in json.load(open(os.path.join(d, "top-tiles", "top-tiles.json")))["tiles"]]
assert top(merged) == top(single), (top(merged), top(single))
report = json.load(open(os.path.join(merged, "slide.json")))
assert report["complete"] and os.path.exists(os.path.join(merged, "index.html"))
print(f"slurm test: slide: 3 array tasks merged = one run ({len(rows(single))} tiles, top tiles {top(single)})")
EOF
echo "slurm test: passed"
