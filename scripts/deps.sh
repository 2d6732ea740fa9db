#!/usr/bin/env bash
# deps.sh installs what zkdr's tests and demo need beyond Go itself: ZooKeeper (with a
# Java runtime) from Debian's `zookeeper` package, Prometheus and promtool from
# Debian's `prometheus` package (the alert rules' tests), systemd-analyze (the unit
# file's test) and make if they are missing, and the Go modules. Idempotent, and
# quiet when everything is present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pkgs=()
if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then
	pkgs+=(zookeeper)
fi
if ! command -v make >/dev/null 2>&1; then
	pkgs+=(make)
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
	pkgs+=(systemd)
fi
need_prometheus=false
if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/promtool ]; then
	need_prometheus=true
fi

sudo=()
if [ "${#pkgs[@]}" -gt 0 ] || $need_prometheus; then
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps: need root or sudo to install: ${pkgs[*]} $($need_prometheus && echo prometheus)" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
fi

if [ "${#pkgs[@]}" -gt 0 ]; then
	echo "deps: installing ${pkgs[*]} from Debian packages" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"
	if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then
		echo "deps: zookeeper package installed but java or /usr/share/java/zookeeper.jar is still missing" >&2
		exit 1
	fi
fi

if $need_prometheus; then
	# The package's maintainer scripts start a prometheus service (on :9090) where
	# they can; the tests run their own. A policy-rc.d that answers 101 ("action
	# forbidden") stops invoke-rc.d and deb-systemd-invoke from starting it; one
	# already in place is left alone. Recommends (node-exporter, another service)
	# are not installed.
	policy=/usr/sbin/policy-rc.d
	own_policy=false
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# deps.sh: no services start while it installs packages\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
		"${sudo[@]}" chmod 755 "$policy"
		own_policy=true
	fi
	echo "deps: installing prometheus (prometheus, promtool) from Debian packages" >&2
	status=0
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus || status=$?
	if $own_policy; then
		"${sudo[@]}" rm -f "$policy"
	fi
	[ "$status" -eq 0 ] || exit "$status"
	# Should a service have started anyway (no policy honoured), stop it through
	# the init system that started it.
	if [ -d /run/systemd/system ]; then
		"${sudo[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/prometheus ]; then
		"${sudo[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true
	fi
	if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/promtool ]; then
		echo "deps: prometheus package installed but /usr/bin/prometheus or /usr/bin/promtool is still missing" >&2
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
