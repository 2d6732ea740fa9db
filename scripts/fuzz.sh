#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target of the module for FUZZTIME each (default
# 20000x: a number of executions). Targets are found with `go test -list '^Fuzz'`
# in each package that has a test file declaring one.
#
# Budgets are counts, not durations: with a duration, Go 1.26's fuzz coordinator
# can fail a run with a bare "context deadline exceeded" when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27), which a loaded CI
# machine hits. Minimization of a new input is bounded by a count too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-20000x}"
minimize="${FUZZMINIMIZE:-2000x}"
go="${GO:-go}"

mapfile -t dirs < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . 2>/dev/null |
	grep -v '/testdata/' | xargs -r -n1 dirname | sort -u)
if [ "${#dirs[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets"
	exit 0
fi
count=0
for dir in "${dirs[@]}"; do
	mapfile -t targets < <("$go" test -list '^Fuzz' "$dir" | grep -E '^Fuzz' || true)
	for target in "${targets[@]}"; do
		echo "fuzz: $dir $target for $fuzztime"
		"$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$dir"
		count=$((count + 1))
	done
done
echo "fuzz: $count targets passed"
