package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/testbroker"
)

func freeUDP(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().String()
}

// writeFile writes data to path or fails the test.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A reload that would turn a stream the store holds as EVT into TSD is
// refused whole: the running input stays, and SIGTERM still powers down
// with every record kept.
func TestReloadRefusesAKindChangeAndKeepsRunning(t *testing.T) {
	dir := t.TempDir()
	addr := freeUDP(t)
	doc := func(kind string) string {
		return fmt.Sprintf(`[store]
dir = %q
[[inputs.line_protocol]]
name = "lp"
listen = "udp://%s"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "v"
  sensor = 7
  %s
[[inputs.host]]
interval = "100ms"
sensor_base = 100
`, filepath.Join(dir, "store"), addr, kind)
	}
	path := filepath.Join(dir, "mm2.toml")
	writeFile(t, path, doc(""))
	plan, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(path, plan, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan struct{})
	done := make(chan error)
	go func() { done <- a.Run(ctx, hup) }()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a.mu.Lock()
	lp := a.countersOf("lp")
	host := a.countersOf("host")
	a.mu.Unlock()
	waitFor(t, "a point stored", func() bool {
		_, _ = c.Write([]byte("m v=1\n")) // sent again until stored: a datagram may be refused before the input listens
		time.Sleep(10 * time.Millisecond)
		return lp.records.Load() > 0
	})
	writeFile(t, path, doc(`kind = "tsd"`+"\n  period = \"1s\""))
	hup <- struct{}{}
	waitFor(t, "the refused reload", func() bool { return a.reloadFailures.Load() == 1 })
	n := lp.records.Load()
	waitFor(t, "the input still running", func() bool {
		_, _ = c.Write([]byte("m v=2\n")) // sent again until stored
		time.Sleep(10 * time.Millisecond)
		return lp.records.Load() > n
	})
	waitFor(t, "host figures", func() bool { return host.records.Load() >= 5 })
	if h := a.Health(); h.Status != "ok" || !h.Inputs["lp"] || !h.Inputs["host"] || h.Uplink.Configured {
		t.Errorf("health %+v", h)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The store kept everything (no uplink drained it).
	b, err := Parse("check.toml", []byte(doc("")))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := New(path, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	st := a2.Manager().Stats()
	a2.Manager().Close()
	if want := lp.records.Load() + host.records.Load(); st.New != want {
		t.Errorf("after restart the store holds %d records, the inputs stored %d", st.New, want)
	}
}

// The agent in one process (under the race detector in CI): TLS uplink to
// Mosquitto, HTTP, a reload that reconnects the uplink, records drained.
func TestAgentWithTLSUplinkHTTPAndReload(t *testing.T) {
	b := testbroker.Start(t)
	dir := t.TempDir()
	addr := freeUDP(t)
	doc := func(keepAlive string) string {
		return fmt.Sprintf(`[store]
dir = %q
[uplink]
broker = %q
device = "gw"
username = %q
password = %q
ca_file = %q
cert_file = %q
key_file = %q
keep_alive = %q
min_reconnect = "20ms"
[http]
listen = "127.0.0.1:0"
[[inputs.line_protocol]]
name = "lp"
listen = "udp://%s"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "v"
  sensor = 7
`, filepath.Join(dir, "store"), b.TLSURL(), testbroker.User, testbroker.Password, b.CAFile, b.CertFile, b.KeyFile, keepAlive, addr)
	}
	path := filepath.Join(dir, "mm2.toml")
	writeFile(t, path, doc("30s"))
	plan, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(path, plan, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan struct{})
	done := make(chan error)
	go func() { done <- a.Run(ctx, hup) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, "the HTTP server", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.httpSrv != nil
	})
	base := "http://" + a.httpSrv.Addr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func() {
		// A datagram refused before the input listens is made up for by the
		// next: the test counts what the store took, not what was sent.
		_, _ = c.Write([]byte("m v=1\n"))
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "records acknowledged over TLS", func() bool {
		send()
		_, m := get("/metrics")
		return strings.Contains(m, "mm2_uplink_connected 1") && !strings.Contains(m, `mm2_uplink_acked_records_total{source="hosted"} 0`)
	})
	writeFile(t, path, doc("20s"))
	hup <- struct{}{}
	waitFor(t, "the reload", func() bool { return a.reloads.Load() == 1 })
	for range 20 {
		send()
	}
	waitFor(t, "the store drained after the reconnect", func() bool {
		code, h := get("/healthz")
		return code == 200 && strings.Contains(h, `"connected":true`) && strings.Contains(h, `"status":"ok"`) &&
			a.Manager().Stats().New+a.Manager().Stats().Pending == 0
	})
}
