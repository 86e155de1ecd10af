package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/gateway"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// simReport is the part of the --json output the tests read.
type simReport struct {
	gateway.Counts
	Sources     map[string]gateway.Counts `json:"sources"`
	Interrupted bool                      `json:"interrupted"`
	Phases      struct {
		OutageSpill bool `json:"outage_spill"`
		DiskCap     bool `json:"disk_cap"`
		PowerCut    bool `json:"power_cut"`
		PowerLoss   bool `json:"power_loss"`
		Crash       bool `json:"crash"`
	} `json:"phases"`
	Crashes     []gateway.CrashInfo     `json:"crashes"`
	PowerLosses []gateway.PowerLossInfo `json:"power_losses"`
	Errors      []string                `json:"errors"`
	OK          bool                    `json:"ok"`
}

func decodeReport(t *testing.T, out []byte) simReport {
	t.Helper()
	var r simReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	return r
}

func TestSimulateShortRunAccountsForEveryRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	var stdout, stderr syncBuffer
	code := simulate(context.Background(), []string{"--dir", dir, "--hours", "0.06", "--can-signals", "40",
		"--outage-len", "30s", "--parked", "1m", "--backlog", "2000", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	r := decodeReport(t, []byte(stdout.String()))
	if !r.OK || r.Lost != 0 || r.Interrupted {
		t.Fatalf("report: %+v", r)
	}
	if !r.Phases.OutageSpill || !r.Phases.PowerCut || !r.Phases.PowerLoss || !r.Phases.Crash {
		t.Fatalf("phases not all hit: %+v", r.Phases)
	}
	// The power loss destroys only inside the window (counted as
	// crash-window drops); the process crash destroys nothing and skips no
	// number.
	if len(r.PowerLosses) != 1 || r.PowerLosses[0].Destroyed != r.Dropped.CrashWindow || r.PowerLosses[0].OutsideWindow != 0 {
		t.Fatalf("power losses %+v, crash-window drops %d", r.PowerLosses, r.Dropped.CrashWindow)
	}
	if len(r.Crashes) != 1 || r.Crashes[0].Held == 0 || r.Crashes[0].Destroyed != 0 || r.Crashes[0].NumberingGap != 0 {
		t.Fatalf("process crashes %+v", r.Crashes)
	}
	if r.Written != r.Delivered+r.Dropped.Total+r.Buffered-r.BufferedDelivered {
		t.Fatalf("written %d != delivered %d + dropped %d + buffered %d", r.Written, r.Delivered, r.Dropped.Total, r.Buffered)
	}
	for _, src := range []string{"gateway", "hosted", "ble", "can"} {
		if c := r.Sources[src]; c.Written == 0 || c.Delivered == 0 || c.Lost != 0 {
			t.Fatalf("source %s: %+v", src, c)
		}
	}
	if !strings.Contains(stderr.String(), "delivered") {
		t.Fatalf("no progress line on stderr: %q", stderr.String())
	}
}

func TestSimulateDirectoryGuard(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	if code := simulate(context.Background(), []string{"--dir", dir, "--hours", "0.001", "--quiet"}, &stdout, &stderr); code == 0 {
		t.Fatal("simulate ran in a directory it did not make")
	}
	if !strings.Contains(stderr.String(), "not made by mm2 simulate") {
		t.Fatalf("stderr: %s", stderr.String())
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep me" {
		t.Fatalf("the foreign file was touched: %q %v", b, err)
	}
	// A directory an earlier run made is emptied.
	made := filepath.Join(dir, "made")
	if err := prepareSimDir(made); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(made, "seg-0000000000000001.mm2"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prepareSimDir(made); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(made); len(es) != 1 || es[0].Name() != simulateMarker {
		t.Fatalf("after prepare: %v", es)
	}
}

// TestSimulateSIGTERMKeepsUnackedData builds the binary, runs a long
// offline simulation (everything stays buffered), sends SIGTERM once data
// is buffered, and expects exit 0 and every record the process reported as
// buffered back in the store at the next Open, in order, with its value.
func TestSimulateSIGTERMKeepsUnackedData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "mm2")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "store")
	cmd := exec.Command(bin, "simulate", "--dir", dir, "--hours", "10", "--offline", "--json",
		"--can-signals", "60", "--power-cut=false", "--power-loss=false", "--crash=false")
	var stdout bytes.Buffer
	var stderr syncBuffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&stderr, pipe)
		close(copied)
	}()
	defer func() { _ = cmd.Process.Kill() }()
	waitFor(t, "the first progress line", 30*time.Second, func() bool { return strings.Contains(stderr.String(), "boot 1") })
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr: %s\nstdout: %s", err, stderr.String(), stdout.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit within PowerDown's 60 s after SIGTERM\nstderr: %s", stderr.String())
	}
	r := decodeReport(t, stdout.Bytes())
	if !r.Interrupted || !r.OK || r.Lost != 0 || r.Buffered == 0 || r.Buffered != r.Written || r.Delivered != 0 {
		t.Fatalf("report after SIGTERM: %+v", r)
	}

	m, err := mm2.Open(mm2.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	perSource := map[string]uint64{}
	var total uint64
	buf := make([]mm2.Sample, 4096)
	for _, id := range m.Streams() {
		h, err := m.Stream(id)
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(h.Counts().Total)
		perSource[id.Source.String()] += n
		total += n
		next := uint64(1)
		for {
			k, err := h.ReadBulk(buf)
			if errors.Is(err, mm2.ErrNoData) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range buf[:k] {
				if s.Seq != next || s.Value != gateway.Expected(id, s.UTCms) {
					t.Fatalf("%v: record seq %d (want %d), value %#x at %d", id, s.Seq, next, s.Value, s.UTCms)
				}
				next++
			}
		}
		if next-1 != n {
			t.Fatalf("%v: read %d records, counted %d", id, next-1, n)
		}
	}
	if total != r.Buffered {
		t.Fatalf("the store holds %d records after the restart; the process reported %d buffered", total, r.Buffered)
	}
	for src, c := range r.Sources {
		if perSource[src] != c.Buffered {
			t.Fatalf("source %s: %d in the store, %d reported", src, perSource[src], c.Buffered)
		}
	}
	t.Logf("SIGTERM: %d records buffered, all found after the restart", total)
}

var metricsAt = regexp.MustCompile(`metrics at (http://\S+/metrics)`)

// scrape sums the samples of a metric family.
func scrape(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return -1
	}
	return sum
}

func TestSimulateMetricsMove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- simulate(ctx, []string{"--dir", dir, "--hours", "3", "--can-signals", "20", "--outages", "0",
			"--power-cut=false", "--power-loss=false", "--crash=false", "--metrics-addr", "127.0.0.1:0", "--json", "--quiet"}, &stdout, &stderr)
	}()
	var url string
	waitFor(t, "the metrics address", 20*time.Second, func() bool {
		m := metricsAt.FindStringSubmatch(stderr.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	var w1, a1 float64
	waitFor(t, "records in the metrics", 20*time.Second, func() bool {
		w1, a1 = scrape(t, url, "mm2_records_written_total"), scrape(t, url, "mm2_uplink_acked_records_total")
		return w1 > 0 && a1 > 0
	})
	var w2, a2 float64
	waitFor(t, "the metrics to move", 20*time.Second, func() bool {
		w2, a2 = scrape(t, url, "mm2_records_written_total"), scrape(t, url, "mm2_uplink_acked_records_total")
		return w2 > w1 && a2 > a1
	})
	if pool := scrape(t, url, "mm2_pool_utilization_ratio"); pool < 0 {
		t.Fatal("no mm2_pool_utilization_ratio")
	}
	t.Logf("written %v -> %v, acked %v -> %v", w1, w2, a1, a2)
	cancel() // as SIGTERM does
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after cancel\n%s\n%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("simulate did not stop after its context was cancelled")
	}
	r := decodeReport(t, []byte(stdout.String()))
	if !r.Interrupted || r.Lost != 0 {
		t.Fatalf("report: %+v", r)
	}
}

func TestSignalContextCancelsOnSIGINT(t *testing.T) {
	got := make(chan os.Signal, 1)
	ctx, stop := signalContext(context.Background(), func(s os.Signal) { got <- s })
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the context was not cancelled by SIGINT")
	}
	if s := <-got; s != syscall.SIGINT {
		t.Fatalf("callback got %v", s)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "2MB": 2 << 20, "512k": 512 << 10, "1GiB": 1 << 30, "1.5M": 3 << 19} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Fatalf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseBytes("lots"); err == nil {
		t.Fatal("parseBytes accepted garbage")
	}
}
