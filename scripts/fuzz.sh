#!/usr/bin/env bash
# fuzz.sh runs every Fuzz* target of the module for FUZZTIME each (default 20s).
# Targets are found with `go test -list '^Fuzz'` in each package that has a
# test file declaring one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-20s}"
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
		"$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
		count=$((count + 1))
	done
done
echo "fuzz: $count targets passed"
