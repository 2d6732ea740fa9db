package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkdr/zkdr/failover/site"
	"github.com/zkdr/zkdr/internal/buildinfo"
	"github.com/zkdr/zkdr/replicator"
	"github.com/zkdr/zkdr/replicator/source"
)

// metricsCollector exposes a Daemon's status as Prometheus metrics. It reads
// Status() at scrape time, so replication's hot paths carry no instrumentation
// of Prometheus's: the stage histograms are kept by the source, its appender
// and the applier as cumulative bucket counts (journal.Histogram, a few atomic
// adds per observation), which zkdr status's reports and the benchmarks read
// too, and are exported here as constant histograms.
type metricsCollector struct {
	d     *Daemon
	build buildinfo.Info

	role, epoch                        *prometheus.Desc
	published, indexNodes, hbZxid      *prometheus.Desc
	recursiveWatch                     *prometheus.Desc
	applied, batches, redone, opByOp   *prometheus.Desc
	appliedSeq, wmZxid, lag, guard     *prometheus.Desc
	replicated, runnerErr, bootstrapNs *prometheus.Desc
	resync                             *prometheus.Desc
	aeDivergent, aeUnsettled, aeNodes  *prometheus.Desc
	aePasses, aeFailed, aeLast, aeTook *prometheus.Desc
	buildInfo                          *prometheus.Desc
	guardSince, guardHeld, guardPauses *prometheus.Desc
	stage                              *prometheus.Desc
}

func newMetricsCollector(d *Daemon) *metricsCollector {
	site := prometheus.Labels{"site": d.cfg.Site}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("zkdr_"+name, help, labels, site)
	}
	return &metricsCollector{
		d:           d,
		build:       buildinfo.Read(),
		buildInfo:   desc("build_info", "Always 1: its labels say which zkdr build runs, as zkdr version does.", "version", "revision", "goversion"),
		role:        desc("role", "1 for the site's current role (active, standby, fenced).", "role"),
		epoch:       desc("epoch", "Epoch of the site record."),
		published:   desc("source_events_published_total", "Events the source published to the journal."),
		indexNodes:  desc("source_index_nodes", "Znodes in the source's index (the replicated tree)."),
		hbZxid:      desc("source_heartbeat_zxid", "Zxid of the last heartbeat the source published."),
		bootstrapNs: desc("source_bootstrap_seconds", "How long the source's first walk took."),
		recursiveWatch: desc("source_recursive_watch",
			"1 while the source watches on persistent recursive watches, 0 on one-shot watches (ZooKeeper before 3.6)."),
		applied:     desc("applier_events_applied_total", "Events the applier wrote into the standby."),
		batches:     desc("applier_batches_total", "Multi transactions that carried a checkpoint."),
		redone:      desc("applier_batches_redone_total", "Batches planned again after the standby refused them."),
		opByOp:      desc("applier_messages_op_by_op_total", "Messages applied op by op as a last resort."),
		appliedSeq:  desc("applier_applied_sequence", "Last journal sequence applied (the checkpoint's)."),
		wmZxid:      desc("applier_watermark_zxid", "Primary zxid of the last heartbeat applied: the standby holds every change up to it."),
		lag:         desc("replication_lag_seconds", "Now minus the primary time of the last heartbeat applied: the RPO right now."),
		guard:       desc("delete_guard_paused", "1 while the delete guard holds a group of deletes."),
		guardSince:  desc("delete_guard_paused_since_timestamp_seconds", "When the delete guard paused the applier (unix seconds); 0 while it is not paused."),
		guardHeld:   desc("delete_guard_held_deletes", "Weighed nodes the group the delete guard holds would delete; 0 while it is not paused."),
		guardPauses: desc("delete_guard_pauses_total", "Times the delete guard paused this process's applier."),
		replicated:  desc("applier_replicated_nodes", "Replicated nodes on the standby."),
		runnerErr:   desc("last_error", "1 while the site's runner is stopped by an error."),
		resync:      desc("applier_resyncing", "1 while the standby resyncs from a fresh snapshot after a retention gap."),
		aeDivergent: desc("antientropy_divergent_nodes", "Nodes the last complete anti-entropy pass found to differ between the sites."),
		aeUnsettled: desc("antientropy_unsettled_nodes", "Differences the last anti-entropy pass saw on nodes that were changing on the active site (not divergence)."),
		aeNodes:     desc("antientropy_nodes_compared", "Replicated nodes the last complete anti-entropy pass compared."),
		aePasses:    desc("antientropy_passes_total", "Complete anti-entropy passes."),
		aeFailed:    desc("antientropy_failed_passes_total", "Anti-entropy passes that failed (a site unreachable, the watermark not advancing)."),
		aeLast:      desc("antientropy_last_pass_timestamp_seconds", "Unix time the last complete anti-entropy pass ended."),
		aeTook:      desc("antientropy_last_pass_duration_seconds", "How long the last complete anti-entropy pass took."),
		stage: desc("replication_stage_seconds",
			"Time changes spend in each stage of replication: commit_seen and read_appended on the active site, appended_delivered and delivered_applied on the standby.", "stage"),
	}
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.buildInfo, 1, c.build.Version, c.build.Revision, c.build.GoVersion)
	for _, r := range []site.Role{site.RoleActive, site.RoleStandby, site.RoleFenced} {
		v := 0.0
		if st.Role == r {
			v = 1
		}
		gauge(c.role, v, string(r))
	}
	gauge(c.epoch, float64(st.Epoch))
	errv := 0.0
	if st.LastErr != "" {
		errv = 1
	}
	gauge(c.runnerErr, errv)
	if s := st.Source; s != nil {
		counter(c.published, float64(s.EventsPublished))
		gauge(c.indexNodes, float64(s.IndexSize))
		gauge(c.hbZxid, float64(s.LastHeartbeatZxid))
		gauge(c.bootstrapNs, s.BootstrapDuration.Seconds())
		if s.Watch != "" {
			rw := 0.0
			if s.Watch == source.WatchRecursive {
				rw = 1
			}
			gauge(c.recursiveWatch, rw)
		}
		c.stages(ch, s.Stages, replicator.SourceStages)
	}
	if a := st.Applier; a != nil {
		counter(c.applied, float64(a.EventsApplied))
		counter(c.batches, float64(a.Batches))
		counter(c.redone, float64(a.Redone))
		counter(c.opByOp, float64(a.OpByOp))
		gauge(c.appliedSeq, float64(a.AppliedSeq))
		gauge(c.wmZxid, float64(a.WatermarkZxid))
		gauge(c.replicated, float64(a.Replicated))
		if !a.WatermarkTime.IsZero() {
			gauge(c.lag, time.Since(a.WatermarkTime).Seconds())
		}
		g, since, held := 0.0, 0.0, 0.0
		if a.Guard != nil {
			g, held = 1, float64(a.Guard.Deletes)
			since = float64(a.Guard.Since.UnixNano()) / 1e9
		}
		gauge(c.guard, g)
		gauge(c.guardSince, since)
		gauge(c.guardHeld, held)
		counter(c.guardPauses, float64(a.GuardPauses))
		r := 0.0
		if a.Resync != nil {
			r = 1
		}
		gauge(c.resync, r)
		c.stages(ch, a.Stages, replicator.ApplierStages)
	}
	if ae, ok := c.d.AntiEntropyStatus(); ok {
		counter(c.aePasses, float64(ae.Passes))
		counter(c.aeFailed, float64(ae.FailedPasses))
		if l := ae.Last; l != nil {
			gauge(c.aeDivergent, float64(l.Divergent))
			gauge(c.aeUnsettled, float64(l.Unsettled))
			gauge(c.aeNodes, float64(l.NodesCompared))
			gauge(c.aeLast, float64(l.Finished.UnixNano())/1e9)
			gauge(c.aeTook, l.Duration().Seconds())
		}
	}
}

// stages exports the histograms of the named stages, observed or not, so a
// site's series exist from the start of its role.
func (c *metricsCollector) stages(ch chan<- prometheus.Metric, st replicator.StageLatency, names []string) {
	for _, name := range names {
		h, _ := st.Stage(name)
		ch <- prometheus.MustNewConstHistogram(c.stage, h.Count(), h.Sum.Seconds(), h.Cumulative(), name)
	}
}

// ServeMetrics serves /metrics (Prometheus) and /healthz (200 while the site's
// runner has no error, 503 with the status otherwise; both say which build
// runs) on listen until ctx ends.
func (d *Daemon) ServeMetrics(ctx context.Context, listen string) error {
	reg := prometheus.NewRegistry()
	if err := reg.Register(newMetricsCollector(d)); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	build := buildinfo.Read()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		st := d.Status()
		w.Header().Set("Content-Type", "application/json")
		resyncing := st.Applier != nil && st.Applier.Resync != nil
		if st.LastErr != "" || st.Role == "" || resyncing {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		body := map[string]any{
			"site": st.Site, "role": st.Role, "epoch": st.Epoch, "error": st.LastErr, "resyncing": resyncing,
			"build": build,
		}
		if st.Applier != nil && st.Applier.Start != "" {
			// How the applier came to know the standby: "warm" or "cold: why".
			body["applier_start"] = st.Applier.Start
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
