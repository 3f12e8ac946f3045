#!/usr/bin/env bash
# Put the trained runs of one codec into models/, fix its operating points on
# val and benchmark it: the steps that produced the shipped models and the
# figures in the README.
#   scripts/release.sh jpeg runs/jpeg-s1 [runs/jpeg-s2] [runs/webp-unet=recunet-webp-s1]
# A run's model is named CLASS-CODEC-sSCALE unless RUN=NAME says otherwise.
# Models already shipped stay in the zoo (files made with them keep decoding);
# `zoo choose` weighs every shipped model of the codec, old and new.
set -euo pipefail
codec=$1; shift
val=${VAL:-../shared/data/val}
for arg in "$@"; do
    run=${arg%%=*}
    name=$(python -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['models']['post']['class'].lower() + '-' + sys.argv[2] + '-s' + str(c['config']['scale']))" "$run/card.json" "$codec")
    [[ $arg == *=* ]] && name=${arg#*=}
    hybridcodec zoo add "$run" --name "$name" --codec "$codec"
done
hybridcodec zoo choose --codec "$codec" --val "$val"
hybridcodec bench "$val" --codec "$codec" --out results
