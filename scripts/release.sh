#!/usr/bin/env bash
# Put the trained runs of one codec into models/, fix its operating points on
# choose/ and benchmark it on val/: the steps that produced the shipped models
# and the figures in the README. The table is chosen on choose/, never on the
# bench's photos (CHOOSE may name another folder, but not val/).
#   scripts/release.sh jpeg runs/jpeg-s1 [runs/jpeg-s2] [runs/webp-unet=recunet-webp-s1]
# A run's model is named CLASS-CODEC-sSCALE unless RUN=NAME says otherwise;
# a 4/3 scale is written s43, as the zoo's reccnn-jpeg-s43-d16 is.
# Models already shipped stay in the zoo (files made with them keep decoding);
# `zoo choose` weighs every shipped model of the codec, old and new; then
# scripts/sort_models.py moves each network's files where its new status puts them.
# The bench goes to results/val-vVERSION (VERSION without dots, e.g. val-v072).
set -euo pipefail
if [[ $# -lt 1 ]]; then
    echo "usage: scripts/release.sh CODEC [RUN[=NAME] ...]" >&2
    exit 2
fi
codec=$1; shift
choose=${CHOOSE:-../shared/data/choose}
val=${VAL:-../shared/data/val}
if [[ $(basename "$(realpath -m "$choose")") == val* ]]; then
    echo "release.sh: choose the table on choose/, not on $choose (the bench's photos)" >&2
    exit 2
fi
for arg in "$@"; do
    run=${arg%%=*}
    name=$(python -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['models']['post']['class'].lower() + '-' + sys.argv[2] + '-s' + str(c['config']['scale']).replace('/', ''))" "$run/card.json" "$codec")
    [[ $arg == *=* ]] && name=${arg#*=}
    hybridcodec zoo add "$run" --name "$name" --codec "$codec"
done
hybridcodec zoo choose --codec "$codec" --val "$choose"
python "$(dirname "$0")/sort_models.py"
version=$(python -c "import hybridcodec; print(hybridcodec.__version__.replace('.', ''))")
hybridcodec bench "$val" --codec "$codec" --out "results/val-v$version"
