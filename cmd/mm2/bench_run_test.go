package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2/internal/testbroker"
)

// busFiles writes a DBC of msgs messages with 8 one-byte signals each and a
// candump log of seconds at rate records a second (rate/8 frames a second,
// the messages in turn).
func busFiles(tb testing.TB, dir string, msgs, rate, seconds int) (dbc, log string) {
	var d strings.Builder
	d.WriteString("VERSION \"\"\n\nNS_ :\n\nBS_:\n\nBU_: ECU\n\n")
	for m := range msgs {
		fmt.Fprintf(&d, "BO_ %d M%d: 8 ECU\n", 0x100+m, m)
		for s := range 8 {
			fmt.Fprintf(&d, " SG_ S%d_%d : %d|8@1+ (0.5,0) [0|127.5] \"\" Vector__XXX\n", m, s, 8*s)
		}
		d.WriteString("\n")
	}
	dbc = filepath.Join(dir, "bus.dbc")
	if err := os.WriteFile(dbc, []byte(d.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "bus.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(1, 2))
	fps := rate / 8
	for i := range fps * seconds {
		fmt.Fprintf(w, "(%.6f) can0 %03X#%016X\n", 1700000000+float64(i)/float64(fps), 0x100+i%msgs, r.Uint64())
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return dbc, f.Name()
}

// startBench starts a subcommand with its output discarded.
func startBench(tb testing.TB, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // it may have exited meanwhile
			_ = cmd.Wait()         // "signal: killed": the exit is what was asked
		}
	})
	return cmd
}

// cpuTicks is utime+stime of pid in clock ticks (1/100 s).
func cpuTicks(tb testing.TB, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rssKB reads VmRSS or VmHWM of pid.
func rssKB(tb testing.TB, pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

// BenchmarkRunReplayedBus: mm2 run replaying a bus of 2,000 signals at
// 10,000 records/s into a disk store, uplinked to Mosquitto. Reports the
// share of one core the agent used over 20 s after a 5 s warm-up, its RSS
// and peak RSS, and the records stored a second. Run with -benchtime=1x.
func BenchmarkRunReplayedBus(b *testing.B) {
	const warm, window = 5 * time.Second, 20 * time.Second
	br := testbroker.Start(b)
	bin := buildMM2(b)
	dir := b.TempDir()
	dbc, log := busFiles(b, dir, 250, 10000, 40)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testbroker.FreePort(b))
	cfg := filepath.Join(dir, "bench.toml")
	writeTestFile(b, cfg, fmt.Sprintf(`[store]
dir = %q
sync = "1s"
[uplink]
broker = %q
device = "bench"
[http]
listen = %q
[[inputs.can]]
name = "bus"
dbc = %q
replay = %q
`, filepath.Join(dir, "store"), br.URL(), httpAddr, dbc, log))
	for range b.N {
		cmd := startBench(b, bin, "run", "--config", cfg)
		time.Sleep(warm)
		pid := cmd.Process.Pid
		t0, r0 := cpuTicks(b, pid), scrapeAgent(httpAddr)[`mm2_input_records_total{input="bus"}`]
		time.Sleep(window)
		t1, r1 := cpuTicks(b, pid), scrapeAgent(httpAddr)[`mm2_input_records_total{input="bus"}`]
		rss, hwm := rssKB(b, pid, "VmRSS"), rssKB(b, pid, "VmHWM")
		acked := scrapeAgent(httpAddr)[`mm2_uplink_acked_records_total{source="can"}`]
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("mm2 run after SIGTERM: %v", err)
		}
		b.ReportMetric(float64(t1-t0)/window.Seconds(), "%cpu")
		b.ReportMetric(float64(rss)/1024, "RSS-MB")
		b.ReportMetric(float64(hwm)/1024, "peakRSS-MB")
		b.ReportMetric((r1-r0)/window.Seconds(), "records/s")
		b.ReportMetric(acked, "acked-records")
	}
}
