package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mm2go/mm2/metrics"
	"github.com/mm2go/mm2/uplink"
)

// httpServer serves /metrics and /healthz.
type httpServer struct {
	a       *Agent
	srv     *http.Server
	ln      net.Listener
	metrics atomic.Pointer[http.Handler]
}

func (a *Agent) serveHTTP(addr string) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	h := &httpServer{a: a, ln: ln}
	h.setUplink(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { (*h.metrics.Load()).ServeHTTP(w, r) })
	mux.HandleFunc("/healthz", h.healthz)
	h.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := h.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http: serving stopped", "err", err)
		}
	}()
	a.log.Info("http: serving /metrics and /healthz", "addr", ln.Addr().String())
	return h, nil
}

// Addr is the address the server listens on.
func (h *httpServer) Addr() string { return h.ln.Addr().String() }

// setUplink rebuilds the metrics registry over the store, up (nil = none)
// and the agent's own figures.
func (h *httpServer) setUplink(up *uplink.Uplink) {
	c := metrics.New(h.a.m, up)
	c.Registry().MustRegister(&agentCollector{a: h.a})
	handler := promhttp.HandlerFor(c.Registry(), promhttp.HandlerOpts{})
	h.metrics.Store(&handler)
}

func (h *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.a.log.Warn("http: shutdown", "err", err) // scrapes still running at the deadline were cut
	}
}

// Health is the /healthz document.
type Health struct {
	Status string `json:"status"` // ok, degraded (store fine, uplink down or disk error), failing (store unusable)
	Store  struct {
		Backend      string `json:"backend"`
		PoweringDown bool   `json:"powering_down"`
		DiskError    string `json:"disk_error,omitempty"`
		Unsent       uint64 `json:"unsent_records"`
	} `json:"store"`
	Uplink struct {
		Configured bool   `json:"configured"`
		Connected  bool   `json:"connected"`
		Broker     string `json:"broker,omitempty"`
	} `json:"uplink"`
	Inputs map[string]bool `json:"inputs"` // name -> running
}

// Health reports the agent's state.
func (a *Agent) Health() Health {
	var h Health
	st := a.m.Stats()
	h.Store.Backend, h.Store.PoweringDown, h.Store.DiskError = st.Backend, st.PoweringDown, st.DiskError
	h.Store.Unsent = st.New + st.Pending
	a.mu.Lock()
	if a.plan.Uplink != nil {
		h.Uplink.Configured = true
		h.Uplink.Broker = a.plan.Uplink.MQTT.Broker
		h.Uplink.Connected = a.up != nil && a.up.mq.Connected()
	}
	h.Inputs = map[string]bool{}
	for _, ri := range a.running {
		name := ri.pi.Input.Name()
		h.Inputs[name] = a.countersOf(name).running.Load()
	}
	a.mu.Unlock()
	switch {
	case st.PoweringDown:
		h.Status = "failing"
	case st.DiskError != "" || h.Uplink.Configured && !h.Uplink.Connected:
		h.Status = "degraded"
	default:
		h.Status = "ok"
	}
	return h
}

// healthz answers 200 while the store takes records (ok or degraded: an
// uplink that is down is normal on a moving gateway and nothing is lost),
// 503 when it does not.
func (h *httpServer) healthz(w http.ResponseWriter, _ *http.Request) {
	doc := h.a.Health()
	w.Header().Set("Content-Type", "application/json")
	if doc.Status == "failing" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	// An encoding error here is the client gone: nothing to tell it.
	_ = json.NewEncoder(w).Encode(doc)
}

// agentCollector exports the inputs' counters and the reloads. The uplink's
// figures, its connection state (mm2_uplink_connected) included, come from
// the metrics package's collector over the running uplink.
type agentCollector struct{ a *Agent }

var (
	descRecords   = prometheus.NewDesc("mm2_input_records_total", "Records an input stored.", []string{"input"}, nil)
	descMalformed = prometheus.NewDesc("mm2_input_malformed_total", "Malformed input skipped (lines, frames, reports).", []string{"input"}, nil)
	descUnmapped  = prometheus.NewDesc("mm2_input_unmapped_total", "Well-formed input that no mapping names, skipped.", []string{"input"}, nil)
	descRejected  = prometheus.NewDesc("mm2_input_rejected_records_total", "Records the store refused (full with reject-new, powering down).", []string{"input"}, nil)
	descRunning   = prometheus.NewDesc("mm2_input_running", "1 while the input runs, 0 while it waits to restart or has finished.", []string{"input"}, nil)
	descReloads   = prometheus.NewDesc("mm2_agent_reloads_total", "Configuration reloads (SIGHUP) by result.", []string{"result"}, nil)
)

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descMalformed, descUnmapped, descRejected, descRunning, descReloads} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	a.mu.Lock()
	names := make([]string, 0, len(a.counters))
	for n := range a.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	cs := make([]*counters, len(names))
	for i, n := range names {
		cs[i] = a.counters[n]
	}
	a.mu.Unlock()
	cnt := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for i, n := range names {
		k := cs[i]
		cnt(descRecords, k.records.Load(), n)
		cnt(descMalformed, k.malformed.Load(), n)
		cnt(descUnmapped, k.unmapped.Load(), n)
		cnt(descRejected, k.rejected.Load(), n)
		run := 0.0
		if k.running.Load() {
			run = 1
		}
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, run, n)
	}
	cnt(descReloads, a.reloads.Load(), "ok")
	cnt(descReloads, a.reloadFailures.Load(), "refused")
}
