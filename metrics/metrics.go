// Package metrics exposes a mm2.Manager, and optionally its uplink, as
// Prometheus metrics. It is kept apart from the root package so that the
// core stays free of dependencies.
//
// Everything is read at scrape time from Manager.Stats, each stream's Stats
// (aggregated per source) and Uplink.Stats: the collector keeps no state and
// adds nothing to the hot path. A scrape walks every stream once.
//
// Names follow the Prometheus conventions: base units in the name
// (_bytes, _seconds, _ratio), _total on counters only. The counters are the
// manager's and the uplink's own, which start at zero when the process (or,
// in a gateway that reopens its store, the manager) starts again;
// Prometheus's rate() and increase() treat that as a counter reset.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

// Namespace prefixes every metric name.
const Namespace = "mm2"

// shutdownTimeout bounds how long Serve waits for scrapes in progress when
// its context ends.
const shutdownTimeout = 2 * time.Second

var dropReasons = []mm2.DropReason{mm2.DropRAMFull, mm2.DropDiskCap, mm2.DropCorrupt}

func dropsOf(d mm2.Drops, r mm2.DropReason) uint64 {
	switch r {
	case mm2.DropRAMFull:
		return d.RAMFull
	case mm2.DropDiskCap:
		return d.DiskCap
	case mm2.DropCorrupt:
		return d.Corrupt
	}
	return 0
}

// Collector is a prometheus.Collector over a manager and an optional uplink.
type Collector struct {
	m   *mm2.Manager
	up  *uplink.Uplink
	reg *prometheus.Registry

	info, poolSectors, sectorBytes, utilization, pressure                     *prometheus.Desc
	allocs, allocFails, frees, rejected, efficiency, footprint, powering, utc *prometheus.Desc

	streams, records, written, acknowledged, dropped, sectors, oldest *prometheus.Desc

	diskBytes, diskFiles, diskRecords, diskWritten, diskSyncs, diskCheckpoints *prometheus.Desc
	diskRecovered, diskSkippedRecords, diskSkippedFrames, diskError, diskFull  *prometheus.Desc

	upConnected *prometheus.Desc

	upBatches, upRecords, upBytes, upAcks, upNacks, upAckedRecords, upNackedRecords *prometheus.Desc
	upTimeouts, upConflicts, upFailures, upBackoff, upInFlight, upLatency           *prometheus.Desc
}

// New returns a collector over m and, when up is not nil, its uplink. Its
// Registry holds it, mm2_build_info, and the Go runtime (go_*) and process
// (process_*) collectors.
func New(m *mm2.Manager, up *uplink.Uplink) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	c := &Collector{
		m: m, up: up,
		info:        d("info", "Profile and storage backend of the manager (always 1).", "profile", "backend"),
		poolSectors: d("pool_sectors", "Sectors of the RAM pool by state.", "state"),
		sectorBytes: d("pool_sector_size_bytes", "Bytes per sector."),
		utilization: d("pool_utilization_ratio", "Used sectors over all sectors of the RAM pool."),
		pressure:    d("pool_pressure", "Pool pressure level: 0 normal (<60 %), 1 warning (60-79 %), 2 critical (>=80 %)."),
		allocs:      d("sector_allocations_total", "Sectors allocated."),
		allocFails:  d("sector_allocation_failures_total", "Sector allocations that found no free sector."),
		frees:       d("sector_frees_total", "Sectors freed."),
		rejected:    d("rejected_writes_total", "Writes refused with ErrFull."),
		efficiency:  d("space_efficiency_ratio", "Sample bytes over the bytes of the sectors holding them."),
		footprint:   d("footprint_bytes", "Every byte the manager holds."),
		powering:    d("powering_down", "1 between PowerDown and PowerAbort."),
		utc:         d("utc_available", "1 when UTC is known (MCU profiles refuse writes before)."),

		streams:      d("streams", "Configured streams per source.", "source"),
		records:      d("records", "Unacknowledged records per source: new (unread) or pending (sent, not acknowledged).", "source", "state"),
		written:      d("records_written_total", "Records written per source.", "source"),
		acknowledged: d("records_acknowledged_total", "Records erased by an ACK per source.", "source"),
		dropped:      d("records_dropped_total", "Records discarded unacknowledged, per source and reason.", "source", "reason"),
		sectors:      d("sectors", "Sectors holding a source's records, per tier.", "source", "tier"),
		oldest:       d("oldest_unacked_timestamp_seconds", "UTC of the oldest unacknowledged record of a source.", "source"),

		diskBytes:          d("disk_bytes", "Bytes in the disk tier's segment files (0 on the mock backend)."),
		diskFiles:          d("disk_files", "Segment files of the disk tier."),
		diskRecords:        d("disk_records", "Unacknowledged records in the disk tier."),
		diskWritten:        d("disk_written_bytes_total", "Bytes written to the device: segments, checkpoints and rewrites (flash wear)."),
		diskSyncs:          d("disk_syncs_total", "fsync calls on files and directories."),
		diskCheckpoints:    d("disk_checkpoints_total", "Checkpoints written."),
		diskRecovered:      d("disk_recovered_records_total", "Unacknowledged records found on disk when the store was opened."),
		diskSkippedRecords: d("disk_skipped_records_total", "Records in damaged frames skipped when the store was opened."),
		diskSkippedFrames:  d("disk_skipped_frames_total", "Damaged frames skipped when the store was opened."),
		diskError:          d("disk_error", "1 while the disk tier reports an error (writes then follow the RAM policy)."),
		diskFull:           d("disk_full", "1 while that error is a full device (ENOSPC)."),

		upConnected: d("uplink_connected", "1 while the uplink's sender has its connection up (present when the sender reports it, as MQTT does)."),

		upBatches:       d("uplink_batches_total", "Batches sent, retries included.", "source"),
		upRecords:       d("uplink_sent_records_total", "Records in the batches sent, retries included.", "source"),
		upBytes:         d("uplink_sent_bytes_total", "Payload bytes of the batches sent, retries included.", "source"),
		upAcks:          d("uplink_acks_total", "Batches confirmed and ACKed.", "source"),
		upNacks:         d("uplink_nacks_total", "Batches failed or timed out and NACKed.", "source"),
		upAckedRecords:  d("uplink_acked_records_total", "Records ACKed after a confirmed batch.", "source"),
		upNackedRecords: d("uplink_nacked_records_total", "Records NACKed after a failed batch.", "source"),
		upTimeouts:      d("uplink_timeouts_total", "NACKed batches whose send timed out.", "source"),
		upConflicts:     d("uplink_conflicts_total", "Streams NACKed instead of ACKed because another reader touched them.", "source"),
		upFailures:      d("uplink_consecutive_failures", "Failed sends in a row now.", "source"),
		upBackoff:       d("uplink_backoff_seconds", "Current wait before the next attempt after a failure.", "source"),
		upInFlight:      d("uplink_batches_in_flight", "Batches being sent now."),
		upLatency:       d("uplink_send_duration_seconds", "Time from send to confirmation or failure."),
	}
	c.reg = prometheus.NewRegistry()
	c.reg.MustRegister(c)
	RegisterProcess(c.reg)
	return c
}

// RegisterProcess registers on reg what every mm2 process exports besides
// its own figures: mm2_build_info and the Go runtime (go_*) and process
// (process_*) collectors. New does it for its registry; a command with
// metrics of its own (mm2 sink) does it for its.
func RegisterProcess(reg prometheus.Registerer) {
	reg.MustRegister(buildInfoCollector{}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

var descBuildInfo = prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "build_info"),
	"Module version, source revision and Go version of this binary (always 1).", []string{"version", "revision", "goversion"}, nil)

// buildInfoCollector exports mm2_build_info.
type buildInfoCollector struct{}

func (buildInfoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descBuildInfo }

func (buildInfoCollector) Collect(ch chan<- prometheus.Metric) {
	version, revision, goVersion := buildLabels()
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, version, revision, goVersion)
}

// modulePath is the module whose version mm2_build_info reports.
const modulePath = "github.com/mm2go/mm2"

// buildLabels are the version, revision and Go version of this binary: the
// mm2 module's version (the main module's when mm2 is the main module,
// "(devel)" for a build inside its own tree), the VCS revision the Go
// toolchain stamped ("" when it stamped none, e.g. -buildvcs=false), and
// runtime's Go version.
func buildLabels() (version, revision, goVersion string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", "", "unknown"
	}
	version = bi.Main.Version
	if bi.Main.Path != modulePath {
		version = "unknown"
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				version = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					version = d.Replace.Version
				}
			}
		}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return version, revision, bi.GoVersion
}

// Registry is the registry that Handler and Serve expose.
func (c *Collector) Registry() *prometheus.Registry { return c.reg }

// Describe sends every metric description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.info, c.poolSectors, c.sectorBytes, c.utilization, c.pressure, c.allocs, c.allocFails, c.frees,
		c.rejected, c.efficiency, c.footprint, c.powering, c.utc,
		c.streams, c.records, c.written, c.acknowledged, c.dropped, c.sectors, c.oldest,
		c.diskBytes, c.diskFiles, c.diskRecords, c.diskWritten, c.diskSyncs, c.diskCheckpoints,
		c.diskRecovered, c.diskSkippedRecords, c.diskSkippedFrames, c.diskError, c.diskFull,
	} {
		ch <- d
	}
	if c.up != nil {
		for _, d := range []*prometheus.Desc{
			c.upConnected,
			c.upBatches, c.upRecords, c.upBytes, c.upAcks, c.upNacks, c.upAckedRecords, c.upNackedRecords,
			c.upTimeouts, c.upConflicts, c.upFailures, c.upBackoff, c.upInFlight, c.upLatency,
		} {
			ch <- d
		}
	}
}

// perSource aggregates the stream stats of one source.
type perSource struct {
	streams              int
	new, pending         uint64
	written, acked       uint64
	drops                mm2.Drops
	sectorsRAM, sectorsD int
	oldest               int64
	hasUnacked           bool
}

// Collect reads the manager (and uplink) and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	st := c.m.Stats()
	gauge(c.info, 1, st.Profile, st.Backend)
	gauge(c.poolSectors, float64(st.SectorsFree), "free")
	gauge(c.poolSectors, float64(st.SectorsUsed), "used")
	gauge(c.sectorBytes, float64(st.SectorSize))
	gauge(c.utilization, st.UtilizationPct/100)
	gauge(c.pressure, float64(st.Pressure))
	counter(c.allocs, st.Allocations)
	counter(c.allocFails, st.AllocationFailures)
	counter(c.frees, st.Frees)
	counter(c.rejected, st.RejectedWrites)
	gauge(c.efficiency, st.SpaceEfficiencyPct/100)
	gauge(c.footprint, float64(st.Footprint))
	gauge(c.powering, b2f(st.PoweringDown))
	gauge(c.utc, b2f(st.UTCAvailable))
	gauge(c.diskBytes, float64(st.DiskBytes))
	gauge(c.diskFiles, float64(st.DiskFiles))
	gauge(c.diskRecords, float64(st.DiskRecords))
	counter(c.diskWritten, st.BytesWritten)
	counter(c.diskSyncs, st.Syncs)
	counter(c.diskCheckpoints, st.Checkpoints)
	counter(c.diskRecovered, st.RecordsRecovered)
	counter(c.diskSkippedRecords, st.RecordsSkipped)
	counter(c.diskSkippedFrames, st.FramesSkipped)
	gauge(c.diskError, b2f(st.DiskError != ""))
	gauge(c.diskFull, b2f(st.DiskFull))

	var src [mm2.MaxSources]perSource
	for _, id := range c.m.Streams() {
		h, err := c.m.Stream(id)
		if err != nil {
			continue // closed meanwhile
		}
		ss := h.Stats()
		p := &src[id.Source]
		p.streams++
		p.new += uint64(ss.Counts.New)
		p.pending += uint64(ss.Counts.Pending)
		p.written += ss.Written
		p.acked += ss.Acked - min(ss.Acked, ss.Drops.Total()) // Acked counts dropped records too
		p.drops.RAMFull += ss.Drops.RAMFull
		p.drops.DiskCap += ss.Drops.DiskCap
		p.drops.Corrupt += ss.Drops.Corrupt
		p.sectorsRAM += ss.SectorsRAM
		p.sectorsD += ss.SectorsDisk
		if ss.HasUnacked && (!p.hasUnacked || ss.OldestUnackedMs < p.oldest) {
			p.oldest, p.hasUnacked = ss.OldestUnackedMs, true
		}
	}
	for i := range src {
		p := &src[i]
		if p.streams == 0 {
			continue
		}
		s := mm2.Source(i).String()
		gauge(c.streams, float64(p.streams), s)
		gauge(c.records, float64(p.new), s, "new")
		gauge(c.records, float64(p.pending), s, "pending")
		counter(c.written, p.written, s)
		counter(c.acknowledged, p.acked, s)
		for _, r := range dropReasons {
			counter(c.dropped, dropsOf(p.drops, r), s, r.String())
		}
		gauge(c.sectors, float64(p.sectorsRAM), s, "ram")
		gauge(c.sectors, float64(p.sectorsD), s, "disk")
		if p.hasUnacked {
			gauge(c.oldest, float64(p.oldest)/1000, s)
		}
	}
	if c.up != nil {
		c.collectUplink(ch, counter, gauge)
	}
}

func (c *Collector) collectUplink(ch chan<- prometheus.Metric,
	counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	us := c.up.Stats()
	if conn, ok := c.up.Sender().(uplink.Connector); ok {
		b := 0.0
		if conn.Connected() {
			b = 1
		}
		gauge(c.upConnected, b)
	}
	for _, src := range c.up.Config().Sources {
		s, name := us.Sources[src], src.String()
		counter(c.upBatches, s.Batches, name)
		counter(c.upRecords, s.Records, name)
		counter(c.upBytes, s.Bytes, name)
		counter(c.upAcks, s.Acks, name)
		counter(c.upNacks, s.Nacks, name)
		counter(c.upAckedRecords, s.AckedRecords, name)
		counter(c.upNackedRecords, s.NackedRecords, name)
		counter(c.upTimeouts, s.Timeouts, name)
		counter(c.upConflicts, s.Conflicts, name)
		gauge(c.upFailures, float64(s.Failures), name)
		gauge(c.upBackoff, s.Backoff.Seconds(), name)
	}
	gauge(c.upInFlight, float64(us.InFlight))
	h := us.Latency
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.upLatency, h.Count, h.Sum, buckets)
}

// Handler serves the registry in the Prometheus exposition format.
func (c *Collector) Handler() http.Handler {
	return promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{})
}

// Serve listens on addr (e.g. "127.0.0.1:9477") and serves /metrics until
// ctx is done; then it shuts the server down and returns nil.
func (c *Collector) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return c.ServeListener(ctx, ln)
}

// ServeListener is Serve on a listener the caller opened (for example on
// port 0, to learn the port from ln.Addr()). It closes ln.
func (c *Collector) ServeListener(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", c.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
