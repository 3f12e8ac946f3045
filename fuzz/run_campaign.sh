#!/usr/bin/env bash
# A fuzzing campaign: each harness (fuzz_reader.py on .hc files, fuzz_native.py on
# native and plain files) runs for RUNS inputs, one after the other, in one
# background process at a time (nice'd, the decoder on one thread), logging to
# OUT/reader.log and OUT/native.log; a finding is written to OUT/ as
# crash-*, timeout-* or oom-* and ends that harness's run (the next one starts).
#
#   fuzz/run_campaign.sh RUNS [OUT]     # e.g. fuzz/run_campaign.sh 500000
#
# Bounds per input: 30 s (-timeout), 3 GB resident (-rss_limit_mb) and 3 GB
# of address space (fuzz_common.limit_memory). Needs atheris in the venv
# (pip install atheris). OUT/summary.txt gets each harness's runs, execs/s and
# findings when it ends; `tail -f OUT/*.log` follows it. Replay a finding
# without atheris: python fuzz/fuzz_common.py OUT/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:?usage: fuzz/run_campaign.sh RUNS [OUT]}
OUT=${2:-fuzz/campaign-$(date -u +%Y%m%dT%H%M%SZ)}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$OUT"
"$PYTHON" -c "import atheris" 2>/dev/null || { echo "atheris is not installed: $PYTHON -m pip install atheris" >&2; exit 2; }
[ -d fuzz/corpus/hc ] && [ -d fuzz/corpus/native ] || "$PYTHON" fuzz/make_seeds.py
export HYBRIDCODEC_THREADS=1 OMP_NUM_THREADS=1 PYTHON RUNS OUT

nohup nice -n 10 bash -c '
for harness in reader:hc native:native; do
    name=${harness%%:*} corpus=fuzz/corpus/${harness##*:}
    start=$(date +%s)
    "$PYTHON" fuzz/fuzz_$name.py -runs="$RUNS" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
        -artifact_prefix="$OUT/" "$corpus" >"$OUT/$name.log" 2>&1 && status=0 || status=$?
    runs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$OUT/$name.log" | grep -o "[0-9]*$" || echo "?")
    rate=$(grep -o "stat::average_exec_per_sec: *[0-9]*" "$OUT/$name.log" | grep -o "[0-9]*$" || echo "?")
    echo "$name: exit $status, $runs inputs, $rate execs/s, $(( $(date +%s) - start )) s," \
         "findings in OUT so far: $(ls "$OUT" | grep -cE "^(crash|timeout|oom|leak)-" || true)" >>"$OUT/summary.txt"
done
' >"$OUT/campaign.log" 2>&1 &
echo "campaign of $RUNS inputs a harness running as process $!: logs in $OUT/"
