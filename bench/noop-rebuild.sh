#!/usr/bin/env bash
# Benchmark (issue 6): no-op rebuild time of a project with 3 LamdaModel items next to the same project
# without them. Prints the median of N no-op builds for each. Usage: bench/noop-rebuild.sh [N]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build "$repo/src/Lamda.Build" -c Release -v:q -nologo >/dev/null
dotnet build "$repo/src/Lamda.Cli" -c Release -v:q -nologo >/dev/null
source "$repo/bench/consumer-project.sh"
make_project() { # name, items
  mkdir -p "$work/$1/models"
  for m in a b c; do cp "$repo/samples/models/tinynet.onnx" "$work/$1/models/$m.onnx"; done
  write_consumer_project "$work/$1" "$2"
  echo 'System.Console.WriteLine(1);' > "$work/$1/Program.cs"
}
items='<LamdaModel Include="models/a.onnx" Latency="0.6ms" Device="jetson-nano" /><LamdaModel Include="models/b.onnx" Latency="0.7ms" Device="raspberry-pi-4" /><LamdaModel Include="models/c.onnx" Latency="0.3ms" Device="intel-i7-laptop" />'
make_project with "$items"
make_project without ""
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for p in with without; do
  dotnet build "$work/$p/$p.csproj" -v:q -nologo >/dev/null   # first build: restore, adapt, compile
  for i in $(seq "$runs"); do
    s=$(date +%s.%N); dotnet build "$work/$p/$p.csproj" --no-restore -v:q -nologo >/dev/null; e=$(date +%s.%N)
    awk "BEGIN { print $e - $s }"
  done | median > "$work/$p.median"
done
w=$(cat "$work/with.median"); wo=$(cat "$work/without.median")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(dotnet --version)"
echo "no-op rebuild, median of $runs: with 3 LamdaModel items ${w}s, without ${wo}s, difference $(awk "BEGIN { print $w - $wo }")s"
