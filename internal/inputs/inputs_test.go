package inputs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// memSink collects what an input hands over.
type memSink struct {
	mu        sync.Mutex
	recs      []rec
	malformed []error
	unmapped  int
}

type rec struct {
	id    mm2.StreamID
	value uint32
	ms    int64
}

func (s *memSink) Record(id mm2.StreamID, v uint32, ms int64) {
	s.mu.Lock()
	s.recs = append(s.recs, rec{id, v, ms})
	s.mu.Unlock()
}

func (s *memSink) Malformed(err error) {
	s.mu.Lock()
	s.malformed = append(s.malformed, err)
	s.mu.Unlock()
}

func (s *memSink) Unmapped() {
	s.mu.Lock()
	s.unmapped++
	s.mu.Unlock()
}

func (s *memSink) snapshot() ([]rec, []error, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rec(nil), s.recs...), append([]error(nil), s.malformed...), s.unmapped
}

func (s *memSink) floats(id mm2.StreamID) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []float32
	for _, r := range s.recs {
		if r.id == id {
			out = append(out, math.Float32frombits(r.value))
		}
	}
	return out
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

var quiet = slog.New(slog.DiscardHandler)

// runInput runs in until the test ends and returns its sink.
func runInput(t *testing.T, in Input) *memSink {
	t.Helper()
	s := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, s, quiet) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", in.Name(), err)
		}
	})
	return s
}

func i64(v int64) *int64 { return &v }

func f64(v float64) *float64 { return &v }

func TestCANReplayDecodesSignalsWithTheDBC(t *testing.T) {
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Replay: "testdata/drive.log", ReplaySpeed: f64(0), SensorBase: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(in.Streams()); n != 5 {
		t.Fatalf("%d streams, want 5 (RPM, Coolant, Throttle, VehicleSpeed, Distance)", n)
	}
	s := &memSink{}
	if err := in.Run(context.Background(), s, quiet); err != nil {
		t.Fatal(err)
	}
	id := func(n uint32) mm2.StreamID { return mm2.StreamID{Source: mm2.CAN, Sensor: n} }
	for _, c := range []struct {
		sensor uint32
		want   []float32
	}{
		{100, []float32{1000, 2000}}, // RPM, 0.25 rpm a bit
		{101, []float32{50, 0}},      // Coolant, signed with offset -40
		{102, []float32{40, 45}},     // Throttle
		{103, []float32{60}},         // VehicleSpeed, big-endian (the 1-byte frame is refused)
		{104, []float32{123456}},     // Distance, extended ID
	} {
		if got := s.floats(id(c.sensor)); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("sensor %d: %v, want %v", c.sensor, got, c.want)
		}
	}
	_, malformed, unmapped := s.snapshot()
	if unmapped != 1 {
		t.Errorf("unmapped %d, want 1 (ID 0x123)", unmapped)
	}
	if len(malformed) != 3 {
		t.Errorf("malformed %v, want 3: the text line, the short frame, the remote frame", malformed)
	}
}

func TestCANRawIntegers(t *testing.T) {
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Replay: "testdata/drive.log", ReplaySpeed: f64(0), Value: "int"})
	if err != nil {
		t.Fatal(err)
	}
	s := &memSink{}
	if err := in.Run(context.Background(), s, quiet); err != nil {
		t.Fatal(err)
	}
	recs, _, _ := s.snapshot()
	got := map[uint32][]uint32{}
	for _, r := range recs {
		got[r.id.Sensor] = append(got[r.id.Sensor], r.value)
	}
	if fmt.Sprint(got[0]) != "[4000 8000]" || fmt.Sprint(got[1]) != "[90 40]" || fmt.Sprint(got[4]) != "[123456]" {
		t.Errorf("raw values %v", got)
	}
}

func TestCANReplayPacesByTimestamps(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "slow.log")
	writeFile(t, log, "(10.000000) can0 200#0001\n(10.300000) can0 200#0002\n")
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Replay: log})
	if err != nil {
		t.Fatal(err)
	}
	s := &memSink{}
	start := time.Now()
	if err := in.Run(context.Background(), s, quiet); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("the 0.3 s log replayed in %v at speed 1", el)
	}
	if recs, _, _ := s.snapshot(); len(recs) != 2 {
		t.Errorf("%d records", len(recs))
	}
}

func TestCANConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg CANConfig
		key string
	}{
		{CANConfig{Replay: "testdata/drive.log"}, "dbc"},
		{CANConfig{DBC: "testdata/vehicle.dbc"}, "interface"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Interface: "can0", Replay: "testdata/drive.log"}, "interface"},
		{CANConfig{DBC: "testdata/none.dbc", Interface: "can0"}, "dbc"},
		{CANConfig{DBC: "testdata/drive.log", Interface: "can0"}, "dbc"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Replay: "testdata/missing.log"}, "replay"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Interface: "can0", Kind: "tsd"}, "period"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Interface: "can0", Source: "nine"}, "source"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Interface: "can0", SensorBase: 1<<32 - 2}, "sensor_base"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Interface: "can0", Value: "hex"}, "value"},
		{CANConfig{DBC: "testdata/vehicle.dbc", Replay: "testdata/drive.log", ReplaySpeed: f64(-1)}, "replay_speed"},
	} {
		_, err := NewCAN(c.cfg)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != c.key {
			t.Errorf("%+v: error %v, want one about %s", c.cfg, err, c.key)
		}
	}
}

// vcanInterface returns a vcan interface of this machine, or "".
func vcanInterface() string {
	links, _ := filepath.Glob("/sys/class/net/*")
	for _, l := range links {
		if b, err := os.ReadFile(filepath.Join(l, "type")); err == nil && strings.TrimSpace(string(b)) == "280" {
			if _, err := os.Stat(filepath.Join(l, "device")); err != nil { // virtual: vcan
				return filepath.Base(l)
			}
		}
	}
	return ""
}

func TestCANLiveSocketCAN(t *testing.T) {
	iface := vcanInterface()
	if iface == "" {
		t.Skip("no vcan interface: this kernel has no vcan module loaded (modprobe vcan; ip link add dev vcan0 type vcan; ip link set up vcan0)")
	}
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Interface: iface})
	if err != nil {
		t.Fatal(err)
	}
	s := runInput(t, in)
	if err := sendCAN(iface, "200#1770"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the frame from "+iface, func() bool { return len(s.floats(mm2.StreamID{Source: mm2.CAN, Sensor: 3})) > 0 })
}

func TestLineProtocolOverTCPUDPAndUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lp.sock")
	for _, listen := range []string{
		fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t, "tcp")),
		fmt.Sprintf("udp://127.0.0.1:%d", freePort(t, "udp")),
		"unix://" + sock,
	} {
		t.Run(strings.Split(listen, ":")[0], func(t *testing.T) {
			in, err := NewLineProtocol(LineProtocolConfig{Listen: listen, Precision: "ms", Map: []LineMapping{
				{Measurement: "env", Field: "temp", Sensor: i64(1)},
				{Measurement: "env", Field: "temp", Tags: map[string]string{"room": "b"}, Sensor: i64(2)},
				{Measurement: "env", Field: "count", Sensor: i64(3), Value: "int"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			s := runInput(t, in)
			network, addr, _ := strings.Cut(listen, "://")
			var c net.Conn
			waitFor(t, "the listener", func() bool {
				c, err = net.Dial(network, addr)
				return err == nil
			})
			defer c.Close()
			lines := []string{
				"env,room=a temp=21.5,count=7i 1700000000000\n",
				"env,room=b temp=19,count=-3i 1700000000001\n",
				"env temp=\"warm\"\n",             // a string: malformed
				"env,room=a temp=1.5,count=2.5\n", // 2.5 as int: malformed, nothing of the point stored
				"env,room=a temp=\n",              // syntax: malformed
				"cpu usage=3\n",                   // unmapped measurement
				"env other=1\n",                   // unmapped field
			}
			base := 0
			if network == "udp" {
				// Dialing UDP does not tell whether the input listens yet:
				// send unmapped probes until one is counted.
				waitFor(t, "a probe datagram", func() bool {
					_, _ = c.Write([]byte("probe v=1\n")) // refused before the input listens: sent again
					time.Sleep(5 * time.Millisecond)
					_, _, base = s.snapshot()
					return base > 0
				})
				time.Sleep(20 * time.Millisecond)
				_, _, base = s.snapshot()
				if _, err := c.Write([]byte(strings.Join(lines, ""))); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, l := range lines {
					if _, err := c.Write([]byte(l)); err != nil {
						t.Fatal(err)
					}
				}
			}
			waitFor(t, "every line handled", func() bool {
				recs, bad, un := s.snapshot()
				return len(recs) == 5 && len(bad) == 3 && un == base+2
			})
			recs, _, _ := s.snapshot()
			if recs[0].ms != 1700000000000 || math.Float32frombits(recs[0].value) != 21.5 || recs[1].value != 7 {
				t.Errorf("first point: %+v", recs[:2])
			}
			if got := s.floats(mm2.StreamID{Source: mm2.Hosted, Sensor: 2}); fmt.Sprint(got) != "[19]" {
				t.Errorf("tagged mapping: %v", got)
			}
			if int32(recs[4].value) != -3 {
				t.Errorf("negative int: %+v", recs[4])
			}
		})
	}
}

func TestLineProtocolBoundsLineLength(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	in, err := NewLineProtocol(LineProtocolConfig{Listen: "tcp://" + addr, MaxLineBytes: 128,
		Map: []LineMapping{{Measurement: "m", Field: "v", Sensor: i64(1)}}})
	if err != nil {
		t.Fatal(err)
	}
	s := runInput(t, in)
	var c net.Conn
	waitFor(t, "the listener", func() bool { c, err = net.Dial("tcp", addr); return err == nil })
	long := "m v=1 " + strings.Repeat("9", 1000) + "\n"
	if _, err := c.Write([]byte("m v=1\n" + long + "m v=2\n")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "both short lines", func() bool { recs, _, _ := s.snapshot(); return len(recs) == 2 })
	if _, bad, _ := s.snapshot(); len(bad) != 1 {
		t.Errorf("malformed %v, want the long line once", bad)
	}
}

func TestLineProtocolConfigErrors(t *testing.T) {
	m := []LineMapping{{Measurement: "m", Field: "f", Sensor: i64(1)}}
	for _, c := range []struct {
		cfg LineProtocolConfig
		key string
	}{
		{LineProtocolConfig{Listen: "127.0.0.1:1", Map: m}, "listen"},
		{LineProtocolConfig{Listen: "http://127.0.0.1:1", Map: m}, "listen"},
		{LineProtocolConfig{Listen: "tcp://nonsense", Map: m}, "listen"},
		{LineProtocolConfig{Listen: "tcp://:1"}, "map"},
		{LineProtocolConfig{Listen: "tcp://:1", Precision: "m", Map: m}, "precision"},
		{LineProtocolConfig{Listen: "tcp://:1", MaxLineBytes: 10, Map: m}, "max_line_bytes"},
		{LineProtocolConfig{Listen: "tcp://:1", Map: []LineMapping{{Measurement: "m", Field: "f"}}}, "map[0].sensor"},
		{LineProtocolConfig{Listen: "tcp://:1", Map: []LineMapping{{Measurement: "m", Sensor: i64(1)}}}, "map[0].measurement"},
		{LineProtocolConfig{Listen: "tcp://:1", Map: []LineMapping{{Measurement: "m", Field: "f", Sensor: i64(1), Kind: "tsd"}}}, "map[0].period"},
		{LineProtocolConfig{Listen: "tcp://:1", Map: append(m, m[0])}, "map[1].field"},
	} {
		_, err := NewLineProtocol(c.cfg)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != c.key {
			t.Errorf("%+v: error %v, want one about %s", c.cfg, err, c.key)
		}
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func gpsdInput(t *testing.T, addr string) *GPSD {
	t.Helper()
	in, err := NewGPSD(GPSDConfig{Address: addr, Latitude: i64(10), Longitude: i64(11), Altitude: i64(12), Speed: i64(13)})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestGPSDWithGpsfake runs Debian's gpsd fed by gpsfake with an NMEA log.
func TestGPSDWithGpsfake(t *testing.T) {
	bin, err := exec.LookPath("gpsfake")
	if err != nil {
		t.Skip("gpsfake is not installed (scripts/test.sh installs gpsd and gpsd-clients); TestGPSDScripted covers the protocol")
	}
	port := freePort(t, "tcp")
	cmd := exec.Command(bin, "-P", fmt.Sprint(port), "-c", "0.05", "-q", "testdata/fix.nmea")
	out, err := os.CreateTemp(t.TempDir(), "gpsfake")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // gpsfake starts gpsd: stop both
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs after the input's cleanup
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group may be gone already
		_ = cmd.Wait()                                      // "signal: killed": the exit is what was asked
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("gpsfake output:\n%s", b)
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitFor(t, "gpsd to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	s := runInput(t, gpsdInput(t, addr))
	waitFor(t, "a fix with speed", func() bool { return len(s.floats(mm2.StreamID{Sensor: 13})) > 0 })
	lat, lon, alt := s.floats(mm2.StreamID{Sensor: 10}), s.floats(mm2.StreamID{Sensor: 11}), s.floats(mm2.StreamID{Sensor: 12})
	if math.Abs(float64(lat[0])-48.1173) > 1e-4 || math.Abs(float64(lon[0])-11.516667) > 1e-4 || math.Abs(float64(alt[0])-545.4) > 0.01 {
		t.Errorf("fix %v %v %v, want 48.1173 11.5167 545.4", lat[0], lon[0], alt[0])
	}
	if sp := s.floats(mm2.StreamID{Sensor: 13}); math.Abs(float64(sp[0])-11.524) > 0.01 {
		t.Errorf("speed %v m/s, want 11.524 (22.4 knots)", sp[0])
	}
}

// TestGPSDScripted speaks gpsd's protocol from a script: the WATCH request
// must arrive, TPV reports are stored with their time, other classes and
// fixes without position are ignored, broken and oversized reports are
// malformed, and the input returns an error when gpsd goes away.
func TestGPSDScripted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	watched := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := c.Write([]byte(`{"class":"VERSION","release":"3.22","proto_major":3,"proto_minor":14}` + "\n")); err != nil {
			t.Error(err)
			return
		}
		buf := make([]byte, 256)
		n, _ := c.Read(buf)
		watched <- string(buf[:n])
		for _, l := range []string{
			`{"class":"DEVICES","devices":[]}`,
			`{"class":"TPV","mode":1,"time":"2024-01-01T00:00:00.000Z"}`,
			`{"class":"TPV","mode":2,"time":"2024-01-01T00:00:01.250Z","lat":1.5,"lon":2.5,"alt":99,"speed":3}`,
			`{"class":"TPV","mode":3,"time":"2024-01-01T00:00:02.000Z","lat":1.6,"lon":2.6,"altHAE":100,"speed":4}`,
			`{"class":"TPV","mode":3,"time":"yesterday","lat":1}`,
			`{"class":"TPV", broken`,
			`{"class":"SKY","satellites":[` + strings.Repeat(`{"PRN":1},`, 7000) + `{}]}`,
		} {
			if _, err := c.Write([]byte(l + "\n")); err != nil {
				t.Error(err)
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}()
	in := gpsdInput(t, ln.Addr().String())
	s := &memSink{}
	err = in.Run(context.Background(), s, quiet)
	if err == nil {
		t.Fatal("Run returned nil when gpsd closed the connection")
	}
	if w := <-watched; !strings.HasPrefix(w, `?WATCH={"enable":true,"json":true};`) {
		t.Errorf("watch request %q", w)
	}
	recs, bad, _ := s.snapshot()
	if len(recs) != 7 { // 2D: lat, lon, speed; 3D: lat, lon, alt, speed
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	if recs[0].ms != 1704067201250 || math.Float32frombits(recs[0].value) != 1.5 {
		t.Errorf("first record %+v", recs[0])
	}
	if alt := s.floats(mm2.StreamID{Sensor: 12}); fmt.Sprint(alt) != "[100]" {
		t.Errorf("altitude %v: a 2D fix has none, the 3D altHAE is 100", alt)
	}
	if len(bad) != 3 {
		t.Errorf("malformed %v, want the bad time, the broken report and the oversized one", bad)
	}
}

func TestHostMetrics(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	write := func(dir, name, s string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(proc, "stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n")
	write(proc, "meminfo", "MemTotal:       1000000 kB\nMemFree:         100000 kB\nMemAvailable:    250000 kB\n")
	write(proc, "loadavg", "0.42 0.30 0.10 1/100 1234\n")
	write(sys, "class/thermal/thermal_zone0/temp", "41000\n")
	write(sys, "class/thermal/thermal_zone1/temp", "55500\n")
	in, err := NewHost(HostConfig{Proc: proc, Sys: sys, SensorBase: 20, Interval: "1s"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.cpu(); err != nil {
		t.Fatal(err)
	}
	write(proc, "stat", "cpu  150 0 150 1500 200 0 0 0 0 0\n") // +100 busy of +1000
	s := &memSink{}
	in.Sample(s)
	get := func(i int) []float32 { return s.floats(mm2.StreamID{Source: mm2.Gateway, Sensor: 20 + uint32(i)}) }
	if got := get(0); len(got) != 1 || math.Abs(float64(got[0])-10) > 1e-4 {
		t.Errorf("cpu %v, want 10 %%", got)
	}
	if fmt.Sprint(get(1), get(2), get(4), get(5)) != "[75] [244.14062] [55.5] [0.42]" {
		t.Errorf("memory %v %v temperature %v load %v", get(1), get(2), get(4), get(5))
	}
	if d := get(3); len(d) != 1 || d[0] < 0 || d[0] > 100 {
		t.Errorf("disk used %v", d)
	}
	// The real host: every figure but maybe the temperature.
	host, err := NewHost(HostConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rs := &memSink{}
	if _, err := host.cpu(); err != nil {
		t.Fatal(err)
	}
	host.Sample(rs)
	if recs, bad, _ := rs.snapshot(); len(recs) < 5 || len(bad) > 0 {
		t.Errorf("real host: %d records, malformed %v", len(recs), bad)
	}
	if _, err := NewHost(HostConfig{Interval: "5ms"}); err == nil {
		t.Error("interval 5ms accepted")
	}
}

func TestParseCandump(t *testing.T) {
	for line, want := range map[string]string{
		"(1.500000) can0 123#DEADBEEF":           "1.5 123#DEADBEEF",
		"(2.000000)  vcan1  18FEF1FE#01":         "2 18FEF1FE#01",
		"(3.000000) can0 7FF#":                   "3 7FF#",
		"(4.000000) can0 100#R":                  "4 100#R",
		"(5.000000) can0 100#R4":                 "5 100#R4",
		"(6.000000) can0 1234#00":                "error",
		"(7.000000) can0 123#0":                  "error",
		"(8.000000) can0 123#001122334455667788": "error",
		"(x) can0 123#00":                        "error",
		"(9.0) can0":                             "error",
		"can0 123#00":                            "error",
		"(1.0) can0 800#00":                      "error", // standard IDs end at 7FF
		"(1.0) can0 12G#00":                      "error",
	} {
		ts, f, err := ParseCandump([]byte(line))
		got := "error"
		if err == nil {
			got = fmt.Sprint(ts, " ", f.String())
		}
		if got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
}

func TestCANReplaySkipsOverlongLines(t *testing.T) {
	log := filepath.Join(t.TempDir(), "long.log")
	writeFile(t, log, "(1.0) can0 200#0001\n("+strings.Repeat("9", 10000)+"\n(1.1) can0 200#0002")
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Replay: log, ReplaySpeed: f64(0)})
	if err != nil {
		t.Fatal(err)
	}
	s := &memSink{}
	if err := in.Run(context.Background(), s, quiet); err != nil {
		t.Fatal(err)
	}
	if recs, bad, _ := s.snapshot(); len(recs) != 2 || len(bad) != 1 {
		t.Errorf("%d records (want both frames, the last without a newline), malformed %v", len(recs), bad)
	}
}

func TestRateLogHoldsBackAndCounts(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r := &RateLog{Every: time.Hour}
	for range 5 {
		r.Log(log, "malformed input skipped")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines within the interval:\n%s", n, buf.String())
	}
	r.mu.Lock()
	r.last = r.last.Add(-2 * time.Hour) // the interval has passed
	r.mu.Unlock()
	r.Log(log, "malformed input skipped")
	if !strings.Contains(buf.String(), "suppressed=4") {
		t.Errorf("the next line does not count the 4 held back:\n%s", buf.String())
	}
}

func TestCANReplayLoops(t *testing.T) {
	in, err := NewCAN(CANConfig{DBC: "testdata/vehicle.dbc", Replay: "testdata/drive.log", ReplaySpeed: f64(0), ReplayLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	s := runInput(t, in)
	waitFor(t, "three passes over the log", func() bool {
		return len(s.floats(mm2.StreamID{Source: mm2.CAN, Sensor: 4})) >= 3 // one Distance a pass
	})
}
