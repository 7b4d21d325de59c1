#!/usr/bin/env bash
# Side-by-side parse rates on the same generated combined_rt file (>= 1 million lines):
# rollgate (parse mode), goaccess, mtail (a program counting status codes) and mawk (splitting
# fields and counting $9). Each tool runs once per round; the best of ROUNDS is kept. Printed per
# tool: wall seconds, CPU seconds (user+sys, all threads) and lines/s by wall and by CPU time. On
# a shared, loaded machine the CPU-time figure is the one to compare.
#
# Usage: bench/parse/compare.sh [BIN_DIR] [LINES]
#   BIN_DIR: the build's bin/ (default: build/bin), holding bench_parse and rollgate-agent (or the
#            test front end rollgate-telemetry-parse). LINES: default 1000000. ROUNDS env: default 3.
set -euo pipefail

bin_dir=${1:-build/bin}
lines=${2:-1000000}
rounds=${ROUNDS:-3}
work=$(mktemp -d /tmp/rollgate-compare-XXXXXX)
trap 'rm -rf "$work"' EXIT
file=$work/access.log

for tool in goaccess mtail mawk; do
  command -v "$tool" >/dev/null || { echo "compare.sh: '$tool' is not installed (apt-get install $tool)" >&2; exit 2; }
done
"$bin_dir/bench_parse" --lines "$lines" --file "$file" --generate-only

if "$bin_dir/rollgate-agent" parse --help >/dev/null 2>&1; then
  rollgate=("$bin_dir/rollgate-agent" parse)
elif [ -x "$bin_dir/rollgate-telemetry-parse" ]; then
  rollgate=("$bin_dir/rollgate-telemetry-parse" parse)
else
  echo "compare.sh: neither rollgate-agent parse nor rollgate-telemetry-parse in '$bin_dir'" >&2
  exit 2
fi

mkdir -p "$work/progs"
cat > "$work/progs/status.mtail" <<'MTAIL'
counter requests_by_status by status

/^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" (?P<status>\d{3}) \S+ "[^"]*" "[^"]*" \d+\.\d+$/ {
  requests_by_status[$status]++
}
MTAIL

run_rollgate() { "${rollgate[@]}" --format combined_rt "$file" > "$work/rollgate.out"; }
run_goaccess() {
  goaccess "$file" --no-global-config --log-format='%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T' \
    --date-format=%d/%b/%Y --time-format=%T -o "$work/goaccess.json" > /dev/null 2>&1
}
run_mtail() {
  mtail --one_shot --one_shot_format=json --logs "$file" --progs "$work/progs" \
    --address 127.0.0.1 --port 0 > "$work/mtail.json" 2> "$work/mtail.err"
}
run_mawk() { mawk '{ c[$9]++ } END { for (k in c) print k, c[k] }' "$file" > "$work/mawk.out"; }

# Prints "wall cpu" seconds for one run of a function.
measure() {
  local TIMEFORMAT='%R %U %S'
  local t
  t=$( { time "$1" ; } 2>&1 )
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<< "$t"
}

cat "$file" > /dev/null  # page cache warm for everyone
printf '%-10s %10s %10s %16s %16s\n' tool wall_s cpu_s lines/s_wall lines/s_cpu
for tool in rollgate mawk mtail goaccess; do
  best_wall=; best_cpu=
  for ((r = 0; r < rounds; r++)); do
    read -r wall cpu < <(measure "run_$tool")
    if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
    if [ -z "$best_cpu" ] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
  done
  awk -v t="$tool" -v w="$best_wall" -v c="$best_cpu" -v n="$lines" \
    'BEGIN { printf "%-10s %10.3f %10.3f %16.0f %16.0f\n", t, w, c, n / w, (c > 0 ? n / c : 0) }'
done

# The tools must agree on what they counted.
echo
echo "status 200 counted by each tool:"
echo "  rollgate: $(awk '$1 == "status" && $2 == "200:" { print $3 }' "$work/rollgate.out")"
echo "  mawk:     $(awk '$1 == "200" { print $2 }' "$work/mawk.out")"
echo "  mtail:    $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([v["Value"]["Value"] for v in d["requests_by_status"][0]["LabelValues"] if v["Labels"]==["200"]][0])' "$work/mtail.json")"
echo "  goaccess: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["general"]["valid_requests"], "valid requests,", [x["hits"]["count"] for x in d["status_codes"]["data"] if x["data"].startswith("2xx")][0], "2xx")' "$work/goaccess.json")"
