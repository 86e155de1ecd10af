package metrics

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape fetches url and returns every sample as "name{labels}" → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, m map[string]float64, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("no series %s in the scrape", series)
	}
	return v
}

func TestScrapedMetricsMoveWithWritesAndUplink(t *testing.T) {
	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	ids := []mm2.StreamID{{Source: mm2.Gateway, Sensor: 1}, {Source: mm2.CAN, Sensor: 2}, {Source: mm2.CAN, Sensor: 3}}
	for _, id := range ids {
		h, err := m.Configure(id, mm2.EVT, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := h.WriteEVT(uint32(i), int64(1_700_000_000_000+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fail := true
	up, err := uplink.New(m, uplink.SenderFunc(func(ctx context.Context, b *uplink.Batch) error {
		if fail && b.Source == mm2.CAN {
			fail = false
			return errors.New("link down")
		}
		return nil
	}), uplink.Config{MaxRecords: 40, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := New(m, up)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()
	url := "http://" + ln.Addr().String() + "/metrics"

	before := scrape(t, url)
	if v := get(t, before, `mm2_records{source="can",state="new"}`); v != 200 {
		t.Errorf("CAN new records before the uplink ran: %v, want 200", v)
	}
	if v := get(t, before, `mm2_records_written_total{source="gateway"}`); v != 100 {
		t.Errorf("Gateway written: %v", v)
	}
	if v := get(t, before, `mm2_pool_sectors{state="used"}`); v == 0 {
		t.Error("no used sectors after 300 writes")
	}
	if v := get(t, before, `mm2_uplink_batches_total{source="can"}`); v != 0 {
		t.Errorf("batches before running: %v", v)
	}
	get(t, before, `mm2_oldest_unacked_timestamp_seconds{source="can"}`)
	get(t, before, `mm2_info{backend="mock",profile="linux"}`)

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	if err := up.Drain(dctx); err != nil {
		t.Fatal(err)
	}

	after := scrape(t, url)
	for series, want := range map[string]float64{
		`mm2_records{source="can",state="new"}`:                     0,
		`mm2_records{source="can",state="pending"}`:                 0,
		`mm2_records_acknowledged_total{source="can"}`:              200,
		`mm2_uplink_acked_records_total{source="can"}`:              200,
		`mm2_uplink_nacks_total{source="can"}`:                      1,
		`mm2_uplink_nacked_records_total{source="can"}`:             40,
		`mm2_uplink_acks_total{source="gateway"}`:                   3,
		`mm2_pool_sectors{state="used"}`:                            0,
		`mm2_records_dropped_total{reason="ram-full",source="can"}`: 0,
	} {
		if v := get(t, after, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if b := get(t, after, `mm2_uplink_batches_total{source="can"}`); b != 1+5 {
		t.Errorf("CAN batches: %v, want 6 (one failed, five confirmed)", b)
	}
	if n := get(t, after, `mm2_uplink_send_duration_seconds_count`); n != 1+5+3 {
		t.Errorf("latency observations: %v, want 9", n)
	}
	if v := get(t, after, `mm2_sector_frees_total`); v <= get(t, before, `mm2_sector_frees_total`) {
		t.Error("frees did not move")
	}
	if _, ok := after[`mm2_oldest_unacked_timestamp_seconds{source="can"}`]; ok {
		t.Error("oldest unacked timestamp reported with nothing unacknowledged")
	}
}

func TestMetricsAreLintClean(t *testing.T) {
	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	if _, err := m.Configure(mm2.StreamID{Source: mm2.BLE, Sensor: 1}, mm2.TSD, time.Second); err != nil {
		t.Fatal(err)
	}
	up, err := uplink.New(m, uplink.SenderFunc(func(context.Context, *uplink.Batch) error { return nil }), uplink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Collector{New(m, nil), New(m, up)} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
		if n := testutil.CollectAndCount(c); n == 0 {
			t.Error("no metrics collected")
		}
		problems, err = testutil.GatherAndLint(c.Registry())
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("registry: %s: %s", p.Metric, p.Text)
		}
	}
}

// connSender is a Sender that reports a connection state.
type connSender struct{ up atomic.Bool }

func (s *connSender) Send(context.Context, *uplink.Batch) error { return nil }
func (s *connSender) Connected() bool                           { return s.up.Load() }

// The disk tier's figures, recovery, the uplink's connection, the build and
// the Go and process collectors are all in the scrape.
func TestDiskBuildConnectionAndProcessMetrics(t *testing.T) {
	dir := t.TempDir()
	open := func() *mm2.Manager {
		m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileLinux, Dir: dir, Sync: mm2.SyncAlways()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 9}
	h, err := m.Configure(id, mm2.EVT, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := h.WriteEVT(uint32(i), int64(1_700_000_000_000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = open() // recovers the 50 records
	defer func() { _ = m.Close() }()
	sender := &connSender{}
	up, err := uplink.New(m, sender, uplink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := New(m, up)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()
	url := "http://" + ln.Addr().String() + "/metrics"

	st := m.Stats()
	got := scrape(t, url)
	for series, want := range map[string]float64{
		`mm2_disk_bytes`:                   float64(st.DiskBytes),
		`mm2_disk_files`:                   float64(st.DiskFiles),
		`mm2_disk_records`:                 float64(st.DiskRecords),
		`mm2_disk_recovered_records_total`: 50,
		`mm2_disk_skipped_records_total`:   0,
		`mm2_disk_skipped_frames_total`:    0,
		`mm2_disk_error`:                   0,
		`mm2_disk_full`:                    0,
		`mm2_uplink_connected`:             0,
	} {
		if v := get(t, got, series); v != want {
			t.Errorf("%s = %v, want %v", series, v, want)
		}
	}
	if st.DiskBytes == 0 || st.DiskFiles == 0 {
		t.Errorf("the store reports no disk bytes or files: %+v", st)
	}
	written, syncs := get(t, got, `mm2_disk_written_bytes_total`), get(t, got, `mm2_disk_syncs_total`)
	checkpoints := get(t, got, `mm2_disk_checkpoints_total`)
	if err := m.PowerDown(context.Background()); err != nil { // writes a checkpoint, synced
		t.Fatal(err)
	}
	sender.up.Store(true)
	got = scrape(t, url)
	if v := get(t, got, `mm2_disk_written_bytes_total`); v <= written {
		t.Errorf("bytes written %v after a checkpoint, %v before", v, written)
	}
	if v := get(t, got, `mm2_disk_syncs_total`); v <= syncs {
		t.Errorf("syncs %v after a checkpoint, %v before", v, syncs)
	}
	if v := get(t, got, `mm2_disk_checkpoints_total`); v != checkpoints+1 {
		t.Errorf("checkpoints %v after one more, %v before", v, checkpoints)
	}
	if v := get(t, got, `mm2_uplink_connected`); v != 1 {
		t.Errorf("mm2_uplink_connected = %v with the connection up", v)
	}
	build := ""
	for series, v := range got {
		if strings.HasPrefix(series, "mm2_build_info{") && v == 1 {
			build = series
		}
	}
	if !strings.Contains(build, `goversion="go`) || !strings.Contains(build, `version="`) {
		t.Errorf("mm2_build_info: %q", build)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"} {
		get(t, got, name)
	}
}

func TestServeStopsWithItsContext(t *testing.T) {
	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	c := New(m, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, "127.0.0.1:0") }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := c.Serve(context.Background(), "127.0.0.1:notaport"); err == nil {
		t.Error("Serve on a bad address returned nil")
	}
}
