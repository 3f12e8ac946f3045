#!/usr/bin/env bash
# Put the trained runs of one codec into models/, fix its operating points on
# val and benchmark it: the steps that produced the shipped models and the
# figures in the README.
#   scripts/release.sh jpeg runs/jpeg-s1 [runs/jpeg-s2]
set -euo pipefail
codec=$1; shift
val=${VAL:-../shared/data/val}
for run in "$@"; do
    scale=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['config']['scale'])" "$run/card.json")
    hybridcodec zoo add "$run" --name "reccnn-$codec-s$scale" --codec "$codec"
done
hybridcodec zoo choose --codec "$codec" --val "$val"
hybridcodec bench "$val" --codec "$codec" --out results
