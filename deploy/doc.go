// Package deploy holds what runs zkdr as a service on a host, and the tests
// that keep it working:
//
//   - systemd/zkdr.service: the hardened unit, `zkdr run` as the zkdr user;
//   - default/zkdr: the unit's EnvironmentFile, where secrets come from;
//   - config/zkdr.hcl: the config installed as /etc/zkdr/zkdr.hcl;
//   - nfpm.yaml, scripts/, version.sh: the .deb `make package` builds;
//   - prometheus/zkdr-rules.yml (with its promtool tests) and
//     grafana/zkdr.json: alerts and a dashboard over the daemon's metrics.
//
// There is no Go API here. The tests verify the unit with systemd-analyze,
// load the example config, run promtool, and, as root, install and purge the
// package with dpkg. e2e checks every metric the rules and the dashboard use
// against a running daemon, and fires the lag alert in a real Prometheus.
package deploy
