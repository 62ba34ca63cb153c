#!/usr/bin/env bash
# Benchmark (issue 14): three projects with a Device="host" item each, built at once with `dotnet build -m:3` on one
# cache (so one machine lock: the adaptations queue for the CPU instead of timing each other). Each adapted model is
# then checked against its own base by the interleaved ratio (`lamda measure OUT --against BASE`): within
# [85%, 103%] of its budget. Prints the load before and after, the build time and each ratio.
# Usage: bench/parallel-builds.sh [BUDGET%] (default 50%). Models: mobilenet_v2, squeezenet1_1, shufflenet_v2_x0_5.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
budget=${1:-50%}
shared="$repo/../shared/models"
[ -d "$shared" ] || shared="$repo/shared/models"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LAMDA_CACHE_DIR="$work/cache"
source "$repo/bench/consumer-project.sh"
dotnet build "$repo/src/Lamda.Build" -c Release -v:q -nologo >/dev/null
dotnet build "$repo/src/Lamda.Cli" -c Release -v:q -nologo >/dev/null
lamda="$repo/src/Lamda.Cli/bin/Release/net10.0/lamda"
models=(mobilenet_v2 squeezenet1_1 shufflenet_v2_x0_5)
refs=""
for m in "${models[@]}"; do
  mkdir -p "$work/$m/models"
  cp "$shared/$m.onnx" "$work/$m/models/"
  write_consumer_project "$work/$m" "<LamdaModel Include=\"models/$m.onnx\" Latency=\"$budget\" Device=\"host\" />"
  echo 'System.Console.WriteLine(1);' > "$work/$m/Program.cs"
  refs="$refs<ProjectReference Include=\"$work/$m/$m.csproj\" />"
done
cat > "$work/all.proj" <<PROJ
<Project>
  <ItemGroup>$refs</ItemGroup>
  <Target Name="Build"><MSBuild Projects="@(ProjectReference)" Targets="Restore" Properties="_Restore=1" /><MSBuild Projects="@(ProjectReference)" BuildInParallel="true" /></Target>
</Project>
PROJ
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); before: $(uptime)"
# The host profile first (as a first build on a new machine would): the bench times the three adaptations.
"$lamda" predict "$work/${models[0]}/models/${models[0]}.onnx" --device host >/dev/null
s=$(date +%s.%N)
dotnet build "$work/all.proj" -m:3 -v:n -nodeReuse:false > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
e=$(date +%s.%N)
grep -E "waiting for another latency measurement|Lamda: adapting" "$work/build.log" | sed 's/^ *//' | sort | uniq -c || true
echo "dotnet build -m:3 of 3 projects: $(awk "BEGIN { printf \"%.0f\", $e - $s }") s; after: $(uptime)"
fraction=$(awk "BEGIN { print ${budget%\%} / 100 }")
for m in "${models[@]}"; do
  out="$work/$m/obj/Debug/net10.0/lamda/$m.host.onnx"
  "$lamda" measure "$out" --against "$work/$m/models/$m.onnx" --json 2>/dev/null \
    | awk -v m="$m" -v f="$fraction" '/"ratio"/ { gsub(/[",]/, "", $2); r = $2 }
        /"noise"/ { gsub(/[",]/, "", $2); n = $2 }
        END { s = r / f; printf "%-20s ratio to base %.3f = %.1f%% of the budget (noise %.1f%%) %s\n", m, r, 100 * s, 100 * n,
              (s >= 0.85 && s <= 1.03) ? "in band" : "OUT OF BAND" }'
done
