package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/sink"
	"github.com/mm2go/mm2/internal/testbroker"
)

// e2eSync is the store's sync policy in the kill -9 test: the default.
// The store journals every write and ACK (see docs/durability.md), so a
// kill -9 of the process under the default policy loses nothing the agent
// accepted; this test checks exactly that.
const e2eSync = "power-down"

// proc is a running mm2 subcommand with its stderr in a file.
type proc struct {
	t   *testing.T
	cmd *exec.Cmd
	log string
}

func start(t *testing.T, bin, logName string, args ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(t.TempDir(), logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, log: logf.Name()}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill() // it may have exited meanwhile
			_ = p.cmd.Wait()         // "signal: killed": the exit is what was asked
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("%s log:\n%s", logName, b)
		}
	})
	return p
}

// signal sends sig to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("sending %v: %v", sig, err)
	}
}

// writeTestFile writes data to path or fails the test.
func writeTestFile(tb testing.TB, path, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// stop sends sig and returns the exit code and how long the exit took.
func (p *proc) stop(sig syscall.Signal) (int, time.Duration) {
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("sending %v: %v", sig, err)
	}
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait() // the exit code is read from ProcessState below
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("no exit 30 s after %v", sig)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func buildMM2(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mm2")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.e+-]+)$`)

// scrapeAgent returns the metrics of an agent's /metrics as "name{labels}" → value.
func scrapeAgent(addr string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := metricLine.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			out[m[1]+m[2]] = v
		}
	}
	return out
}

func healthz(addr string) (map[string]any, int) {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return nil, resp.StatusCode
	}
	return doc, resp.StatusCode
}

func unsent(addr string) float64 {
	doc, _ := healthz(addr)
	if doc == nil {
		return -1
	}
	return doc["store"].(map[string]any)["unsent_records"].(float64)
}

// feeder writes line protocol points "m a=Ni,b=Ni" over TCP.
type feeder struct {
	addr string
	next int
}

func (f *feeder) send(t *testing.T, n int) {
	t.Helper()
	var c net.Conn
	waitUntil(t, "the line protocol listener", func() bool {
		var err error
		c, err = net.Dial("tcp", f.addr)
		return err == nil
	})
	defer c.Close()
	w := bufio.NewWriter(c)
	for range n {
		fmt.Fprintf(w, "m a=%di,b=%di\n", f.next, f.next)
		f.next++
		if f.next%50 == 0 {
			w.Flush()
			time.Sleep(2 * time.Millisecond)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// canLog writes a candump log of frames 10 ms apart: 0x100 (three
// signals) and 0x200 (one), alternating.
func canLog(t *testing.T, frames int) string {
	p := filepath.Join(t.TempDir(), "bus.log")
	var b strings.Builder
	for i := range frames {
		ts := 1700000000 + float64(i)*0.01
		if i%2 == 0 {
			fmt.Fprintf(&b, "(%.6f) can0 100#%04X5A5000000000\n", ts, (i*7)&0xFFFF)
		} else {
			fmt.Fprintf(&b, "(%.6f) can0 200#%04X\n", ts, i&0xFFFF)
		}
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunEndToEnd: Mosquitto with TLS, mm2 run fed by the line protocol
// and a CAN replay, mm2 sink on the other side. mm2 run is killed with
// SIGKILL mid-stream and started again; a SIGHUP adds an input and changes
// the uplink; an invalid config on SIGHUP changes nothing; SIGTERM powers
// down and exits 0. Every record the agent accepted arrives, once after
// duplicates are dropped, in order per stream, with no sequence number
// missing or used twice.
func TestRunEndToEnd(t *testing.T) {
	b := testbroker.Start(t)
	bin := buildMM2(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "records.jsonl")
	snk := start(t, bin, "sink.log", "sink", "--broker", b.URL(), "--client-id", "e2e-sink", "--out", out,
		"--values", "int", "--report", filepath.Join(dir, "report.json"))
	waitUntil(t, "the sink's subscription", func() bool { return strings.Contains(snk.logText(), "msg=subscribed") })

	dbc, _ := filepath.Abs("../../internal/inputs/testdata/vehicle.dbc")
	lpAddr := fmt.Sprintf("127.0.0.1:%d", testbroker.FreePort(t))
	lp2Addr := fmt.Sprintf("127.0.0.1:%d", testbroker.FreePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testbroker.FreePort(t))
	const frames = 300
	busLog := canLog(t, frames)
	config := func(keepAlive string, second bool) string {
		c := fmt.Sprintf(`shutdown_timeout = "5s"
[store]
dir = %q
sync = %q
[uplink]
broker = %q
device = "truck-9"
username = %q
password = %q
ca_file = %q
cert_file = %q
key_file = %q
keep_alive = %q
max_records = 64
min_backoff = "20ms"
max_backoff = "500ms"
min_reconnect = "50ms"
max_reconnect = "500ms"
[http]
listen = %q
[[inputs.line_protocol]]
name = "lp"
listen = "tcp://%s"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "a"
  sensor = 1
  value = "int"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "b"
  sensor = 2
  value = "int"
[[inputs.can]]
name = "bus"
dbc = %q
replay = %q
value = "int"
`, filepath.Join(dir, "store"), e2eSync, b.TLSURL(), testbroker.User, testbroker.Password, b.CAFile, b.CertFile, b.KeyFile,
			keepAlive, httpAddr, lpAddr, dbc, busLog)
		if second {
			c += fmt.Sprintf(`[[inputs.line_protocol]]
name = "lp2"
listen = "tcp://%s"
source = "source5"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "a"
  sensor = 1
  value = "int"
`, lp2Addr)
		}
		return c
	}
	cfgPath := filepath.Join(dir, "mm2.toml")
	writeTestFile(t, cfgPath, config("30s", false))
	if out, err := exec.Command(bin, "run", "--config", cfgPath, "--check").CombinedOutput(); err != nil {
		t.Fatalf("--check: %v\n%s", err, out)
	}

	// First life: everything fed so far accepted, the CAN replay running,
	// the uplink mid-stream; then SIGKILL.
	agent := start(t, bin, "run-1.log", "run", "--config", cfgPath)
	lp := &feeder{addr: lpAddr}
	lp.send(t, 400)
	waitUntil(t, "the 400 points stored", func() bool {
		return scrapeAgent(httpAddr)[`mm2_input_records_total{input="lp"}`] == 800
	})
	waitUntil(t, "the uplink connected over TLS", func() bool { return scrapeAgent(httpAddr)["mm2_uplink_connected"] == 1 })
	m := scrapeAgent(httpAddr)
	if can := m[`mm2_input_records_total{input="bus"}`]; can == 0 || can >= frames*2 {
		t.Logf("CAN records before the kill: %v (the replay should be mid-way)", can)
	}
	agent.stop(syscall.SIGKILL)
	waitUntil(t, "the broker's last will", func() bool { return strings.Contains(snk.logText(), "status=offline") })

	// Second life: more points, a reload that adds an input and changes the
	// uplink, a refused reload, then SIGTERM.
	agent = start(t, bin, "run-2.log", "run", "--config", cfgPath)
	lp.send(t, 300)
	waitUntil(t, "the 300 new points stored", func() bool {
		return scrapeAgent(httpAddr)[`mm2_input_records_total{input="lp"}`] == 600
	})
	writeTestFile(t, cfgPath, config("20s", true))
	agent.signal(syscall.SIGHUP)
	waitUntil(t, "the reload", func() bool { return scrapeAgent(httpAddr)[`mm2_agent_reloads_total{result="ok"}`] == 1 })
	lp.send(t, 100)
	lp2 := &feeder{addr: lp2Addr}
	lp2.send(t, 50)
	writeTestFile(t, cfgPath, "[store]\nsync = \"sometimes\"\n")
	agent.signal(syscall.SIGHUP)
	waitUntil(t, "the refused reload", func() bool { return scrapeAgent(httpAddr)[`mm2_agent_reloads_total{result="refused"}`] == 1 })
	if !strings.Contains(agent.logText(), `mm2.toml:2: store.sync: \"sometimes\"`) {
		t.Errorf("the refused reload does not name the line and the reason")
	}
	waitUntil(t, "the new points stored", func() bool {
		m := scrapeAgent(httpAddr)
		return m[`mm2_input_records_total{input="lp"}`] == 800 && m[`mm2_input_records_total{input="lp2"}`] == 50
	})
	waitUntil(t, "the replay finished", func() bool { return scrapeAgent(httpAddr)[`mm2_input_running{input="bus"}`] == 0 })
	waitUntil(t, "the store drained", func() bool { return unsent(httpAddr) == 0 })
	if doc, code := healthz(httpAddr); code != 200 || doc["status"] != "ok" {
		t.Errorf("healthz %d %v", code, doc)
	}
	canSecond := scrapeAgent(httpAddr)[`mm2_input_records_total{input="bus"}`]
	if canSecond != frames/2*3+frames/2 {
		t.Errorf("second replay stored %v CAN records, want %d", canSecond, frames/2*3+frames/2)
	}
	code, took := agent.stop(syscall.SIGTERM)
	if code != 0 || !strings.Contains(agent.logText(), "powered down") {
		t.Errorf("SIGTERM: exit %d after %v", code, took)
	}
	t.Logf("SIGTERM to exit: %v", took)

	// Let the sink write what is in flight, then stop it.
	time.Sleep(300 * time.Millisecond)
	if code, _ := snk.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("sink exit %d", code)
	}
	checkRecords(t, out, 800, 50, frames)
	var report []sink.StreamReport
	reportBytes, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || json.Unmarshal(reportBytes, &report) != nil {
		t.Fatalf("sink report: %v", err)
	}
	// The real sink's lines and report, against docs/json.md.
	docs := readJSONDoc(t)
	outBytes, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSpace(outBytes), []byte("\n")) {
		checkJSONAgainstDoc(t, "sink line "+strconv.Itoa(i+1), line, docs["sink"], seen)
	}
	missingFromOutput(t, "sink", docs["sink"], seen)
	var elems []json.RawMessage
	if err := json.Unmarshal(reportBytes, &elems); err != nil {
		t.Fatal(err)
	}
	seen = map[string]bool{}
	for i, e := range elems {
		checkJSONAgainstDoc(t, "sink report element "+strconv.Itoa(i+1), e, docs["sink --report"], seen)
	}
	missingFromOutput(t, "sink --report", docs["sink --report"], seen)
	for _, r := range report {
		if r.Missing != 0 {
			t.Errorf("sink reports %+v", r)
		}
	}
}

// checkRecords reads the sink's output: per stream, sequence numbers 1..max
// each exactly once with one value; the line protocol streams carry every
// point fed, in order.
func checkRecords(t *testing.T, path string, lpPoints, lp2Points, frames int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	streams := map[string]map[uint64]float64{}
	order := map[string][]uint64{}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		rec, perr := sink.ParseRecord(line)
		if perr != nil {
			t.Fatalf("sink wrote %q: %v", line, perr)
		}
		m := streams[rec.Stream]
		if m == nil {
			m = map[uint64]float64{}
			streams[rec.Stream] = m
		}
		if _, dup := m[rec.Seq]; dup {
			t.Fatalf("%s seq %d written twice", rec.Stream, rec.Seq)
		}
		m[rec.Seq] = rec.Value
		order[rec.Stream] = append(order[rec.Stream], rec.Seq)
	}
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	// Sequence numbers rise in the order written; after the kill -9 the
	// store continues a reservation higher (never reusing a number), so
	// they are not contiguous across it.
	for _, n := range names {
		seqs := order[n]
		if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) {
			t.Errorf("%s: records out of order", n)
		}
	}
	for _, c := range []struct {
		stream string
		n      int
	}{{"truck-9/hosted/1", lpPoints}, {"truck-9/hosted/2", lpPoints}, {"truck-9/source5/1", lp2Points}} {
		m := streams[c.stream]
		if len(m) != c.n {
			t.Errorf("%s: %d records, want %d", c.stream, len(m), c.n)
			continue
		}
		// Every point fed arrives once, in the order fed.
		for i, seq := range order[c.stream] {
			if m[seq] != float64(i) {
				t.Errorf("%s: record %d (seq %d) holds %v, want %d", c.stream, i, seq, m[seq], i)
				break
			}
		}
	}
	can := 0
	for _, n := range names {
		if strings.HasPrefix(n, "truck-9/can/") {
			can += len(streams[n])
		}
	}
	if can < frames/2*3+frames/2 {
		t.Errorf("%d CAN records arrived, fewer than one full replay", can)
	}
	t.Logf("streams %d, CAN records %d (both lives)", len(streams), can)
}
