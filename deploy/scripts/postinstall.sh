#!/bin/sh
# postinst of the zkdr package: the zkdr system user, the config's group, and
# systemd's view of the unit. It never enables or starts zkdr: edit
# /etc/zkdr/zkdr.hcl and /etc/default/zkdr, then `systemctl enable --now zkdr`.
set -e

if ! getent group zkdr >/dev/null; then
	if command -v addgroup >/dev/null 2>&1; then
		addgroup --system --quiet zkdr
	else
		groupadd --system zkdr
	fi
fi
if ! getent passwd zkdr >/dev/null; then
	if command -v adduser >/dev/null 2>&1; then
		adduser --system --quiet --ingroup zkdr --no-create-home --home /var/lib/zkdr \
			--shell /usr/sbin/nologin --gecos "zkdr daemon" zkdr
	else
		useradd --system --gid zkdr --no-create-home --home-dir /var/lib/zkdr \
			--shell /usr/sbin/nologin --comment "zkdr daemon" zkdr
	fi
fi

# The daemon reads its config as the zkdr user; other users may not. The
# overrides stay across upgrades (dpkg applies them to every new copy) and are
# an administrator's to change.
if command -v dpkg-statoverride >/dev/null 2>&1; then
	for entry in "0750 /etc/zkdr" "0640 /etc/zkdr/zkdr.hcl"; do
		mode=${entry% *}
		path=${entry#* }
		if ! dpkg-statoverride --list "$path" >/dev/null 2>&1; then
			dpkg-statoverride --update --add root zkdr "$mode" "$path"
		fi
	done
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	# An upgrade restarts a running daemon on the new binary.
	if [ "${1:-}" = configure ] && [ -n "${2:-}" ]; then
		systemctl try-restart zkdr.service >/dev/null || true
	fi
fi
exit 0
