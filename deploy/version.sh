#!/bin/sh
# version.sh prints the version of a zkdr build, for the binary and the .deb:
#   1.2.0                 at a tag v1.2.0
#   1.2.0+5.g8421072a3467 five commits after it
#   0.0.0+412.g8421072a3467  no tag yet: commits since the root, then the revision
# with ".dirty" appended when the work tree has uncommitted changes, and
# 0.0.0+unknown outside a git work tree. Commit counts keep later builds
# sorting after earlier ones, as dpkg compares versions.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "0.0.0+unknown"
	exit 0
fi
rev=$(git rev-parse --short=12 HEAD)
dirty=""
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	dirty=".dirty"
fi
if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null); then
	base=${tag#v}
	n=$(git rev-list --count "$tag..HEAD")
	if [ "$n" -eq 0 ]; then
		if [ -n "$dirty" ]; then
			echo "$base+0.g$rev$dirty"
		else
			echo "$base"
		fi
		exit 0
	fi
	echo "$base+$n.g$rev$dirty"
	exit 0
fi
echo "0.0.0+$(git rev-list --count HEAD).g$rev$dirty"
