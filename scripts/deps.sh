#!/usr/bin/env bash
# deps.sh installs what zkdr's tests and demo need beyond Go itself: ZooKeeper (with a
# Java runtime) from Debian's `zookeeper` package, make if it is missing, and the Go
# modules. Idempotent, and quiet when everything is present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pkgs=()
if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then
	pkgs+=(zookeeper)
fi
if ! command -v make >/dev/null 2>&1; then
	pkgs+=(make)
fi

if [ "${#pkgs[@]}" -gt 0 ]; then
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps: need root or sudo to install: ${pkgs[*]}" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	echo "deps: installing ${pkgs[*]} from Debian packages" >&2
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"
	if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then
		echo "deps: zookeeper package installed but java or /usr/share/java/zookeeper.jar is still missing" >&2
		exit 1
	fi
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "deps: go not found (install Go, or put it at /usr/local/go)" >&2
	exit 1
fi
go mod download
