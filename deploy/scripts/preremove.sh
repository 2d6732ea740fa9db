#!/bin/sh
# prerm of the zkdr package: on removal (not on upgrade) stop the daemon where
# systemd runs and disable the unit.
set -e

if [ "${1:-}" = remove ]; then
	if [ -d /run/systemd/system ]; then
		systemctl stop zkdr.service >/dev/null 2>&1 || true
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable zkdr.service >/dev/null 2>&1 || true
	fi
fi
exit 0
