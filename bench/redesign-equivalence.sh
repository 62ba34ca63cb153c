#!/usr/bin/env bash
# Usage: bench/redesign-equivalence.sh BEFORE_LAMDA_DLL AFTER_LAMDA_DLL [SHARED_DIR]
#
# Issue 12 asks that a redesign change no behaviour. Timing is noisy, so this compares what is deterministic: the
# prediction of every shared model on two built-in device profiles, and the adaptation of each to 30/50/70% of its
# predicted latency on jetson-nano with the search generator (outputs, reports, logs). Wall times, the arm's own
# folder name and the wording of the "uncalibrated device" warning (made one message by the redesign) are the only
# things taken out before comparing; everything else must be byte for byte the same.
set -u
before=$1; after=$2; shared=${3:-../shared}
work=$(mktemp -d); export LAMDA_CACHE_DIR=$work/cache
models=("$shared"/models/*.onnx "$shared"/trained/*.onnx)
for arm in before after; do
  dll=${!arm}; mkdir -p "$work/$arm"
  for m in "${models[@]}"; do
    n=$(basename "$m" .onnx)
    for device in jetson-nano raspberry-pi-4; do
      dotnet "$dll" predict "$m" --device $device > "$work/$arm/$n.$device.predict.txt" 2>&1
    done
    ms=$(grep -o '[0-9.]* ms predicted' "$work/$arm/$n.jetson-nano.predict.txt" | head -1 | cut -d' ' -f1)
    for f in 0.3 0.5 0.7; do
      budget=$(awk -v m="$ms" -v f="$f" 'BEGIN { printf "%.3f", m * f }')
      dotnet "$dll" adapt "$m" --latency "${budget}ms" --device jetson-nano -o "$work/$arm/$n.$f.onnx" \
        --report "$work/$arm/$n.$f.json" > "$work/$arm/$n.$f.log" 2>&1
      echo "$arm $n $f: budget $budget ms, exit $?"
    done
  done
done
normalize() { sed -E -e '/uncalibrated estimate/d' -e 's#/(before|after)/#/ARM/#g' -e '/"wallSeconds"/d' "$1"; }
same=0; differ=0
for file in "$work"/before/*; do
  b=$(basename "$file")
  if [[ $b == *.onnx ]]; then cmp -s "$file" "$work/after/$b"; else diff <(normalize "$file") <(normalize "$work/after/$b") > /dev/null; fi \
    && same=$((same + 1)) || { differ=$((differ + 1)); echo "differs: $b"; }
done
echo "files compared: $((same + differ)) (models, reports, logs, predictions); identical: $same; different: $differ"
echo "work folder: $work"
