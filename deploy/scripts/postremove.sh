#!/bin/sh
# postrm of the zkdr package. On purge it also forgets the config's ownership
# overrides and deletes the daemon's state (/var/lib/zkdr, divergence reports
# included) and /run/zkdr. The zkdr user stays, as Debian leaves system users:
# files it owned elsewhere keep a name.
set -e

case "${1:-}" in
remove | purge)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
esac

if [ "${1:-}" = purge ]; then
	if command -v dpkg-statoverride >/dev/null 2>&1; then
		for path in /etc/zkdr/zkdr.hcl /etc/zkdr; do
			if dpkg-statoverride --list "$path" >/dev/null 2>&1; then
				dpkg-statoverride --remove "$path"
			fi
		done
	fi
	rm -rf /var/lib/zkdr /run/zkdr
	rmdir /etc/zkdr 2>/dev/null || true
fi
exit 0
