#!/usr/bin/env bash
# Times two builds of lamda against each other: one quick host profile made by the first, then
# `bench-predictor --profile` by each in the order B A B A A B B A, so a drift in the machine's load falls on both.
# Usage: bench/redesign-timing.sh BEFORE/lamda.dll AFTER/lamda.dll OUT_DIR   (run from the repo root, ../shared beside it)
# Then compare the per-pair measured columns of OUT_DIR/pred-*.txt; predictions should be identical.
set -euo pipefail
before=${1:?usage: bench/redesign-timing.sh BEFORE.dll AFTER.dll OUT_DIR}; after=${2:?}; out=${3:?}
mkdir -p "$out"
export LAMDA_CACHE_DIR="$out/cache"
dotnet "$before" device-profile --quick -o "$out/host.json" > "$out/profile.log" 2>&1
i=1
for which in before after before after after before before after; do
  if [ "$which" = before ]; then dll=$before; else dll=$after; fi
  { uptime; dotnet "$dll" bench-predictor --profile "$out/host.json"; } > "$out/pred-$i-$which.txt" 2>&1
  tail -1 "$out/pred-$i-$which.txt"
  i=$((i + 1))
done
