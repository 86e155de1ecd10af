package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/gateway"
	"github.com/mm2go/mm2/internal/humanize"
	"github.com/mm2go/mm2/metrics"
	"github.com/mm2go/mm2/uplink"
)

// simulateMarker marks a store directory as made by mm2 simulate, which
// alone allows a later run to empty it.
const simulateMarker = ".mm2-simulate"

func runSimulate(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext(context.Background(), func(sig os.Signal) {
		fmt.Fprintf(stderr, "\nmm2 simulate: %v: stopping and powering the store down (a second signal ends the process at once)\n", sig)
	})
	defer stop()
	return simulate(ctx, args, stdout, stderr)
}

// simulate is the command with its context: cancelling ctx is what a
// SIGTERM does.
func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("simulate", stderr,
		"usage: mm2 simulate [-d DIR] [--hours H] [-s SEED] [--mqtt URL] [--metrics-addr ADDR] [-j] [-q] [flags]\n"+
			"Drives a simulated vehicle gateway (CAN, GPS, outages, a power cut, a power loss, a process crash) into a store and an MQTT\n"+
			"uplink, and accounts for every record written: delivered, dropped with a reason, buffered, or lost.",
		"Ctrl-C (SIGINT) or SIGTERM stops the drive, powers the store down and prints the accounting so far.",
		"exit status: 0 every record accounted for (none lost or invented), 1 the accounting failed or the run could not",
		"start (store directory, broker, metrics address), 2 bad usage",
		"JSON fields (--json): docs/json.md, section mm2 simulate")
	dir := fs.String("dir", "./mm2-data", "store directory (disk backend); emptied at start only if an earlier simulate made it")
	hours := fs.Float64("hours", 1, "simulated driving time in hours")
	seed := fs.Uint64("seed", 1, "random seed (event times)")
	broker := fs.String("mqtt", "", "external MQTT broker URL (tcp://host:port); default: an embedded broker on a free 127.0.0.1 port")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9477)")
	asJSON := fs.Bool("json", false, "print the accounting as one JSON object")
	syncFlag := fs.String("sync", "on-power-down", "sync policy: on-power-down, always, or interval:<duration> (always fsyncs every record: scale the run down with --can-signals and --hours)")
	outages := fs.Int("outages", 3, "scripted network outages (link down or failing sends, alternately)")
	outageLen := fs.Duration("outage-len", 4*time.Minute, "simulated length of each outage")
	diskCap := fs.String("disk-cap", "", "store disk cap (e.g. 2MB; default the library's 256 MB); small values make outages drop at the cap")
	powerCut := fs.Bool("power-cut", true, "a power cut (PowerDown) in the middle of an outage, then a restart")
	powerLoss := fs.Bool("power-loss", true, "a power cut without warning (no PowerDown) late in the first outage: unsynced data is lost inside the sync policy's window, then the machine boots again")
	crash := fs.Bool("crash", true, "a process crash (kill -9) late in the run: the store is abandoned without Close and reopened in the same boot, which must destroy nothing")
	parked := fs.Duration("parked", 5*time.Minute, "simulated time the vehicle stays off after the power cut")
	canSignals := fs.Int("can-signals", 200, "CAN signals (10-100 Hz)")
	backlog := fs.Int("backlog", 4000, "unacknowledged records the vehicle lets pile up while the link is up before it waits for the uplink")
	offline := fs.Bool("offline", false, "the link is down for the whole run: everything stays buffered (no final drain)")
	drainTimeout := fs.Duration("drain-timeout", 60*time.Second, "real-time limit of the final drain")
	device := fs.String("device", "", "device name in the MQTT topics (default derived from the seed)")
	quiet := fs.Bool("quiet", false, "no progress line")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mm2 simulate: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments %q", fs.Args())
	}
	if *hours <= 0 || *outages < 0 || *canSignals < 1 || *backlog < 1 {
		return bad("--hours must be > 0, --outages >= 0, --can-signals and --backlog >= 1")
	}
	policy, err := parseSync(*syncFlag)
	if err != nil {
		return bad("%v", err)
	}
	capBytes := int64(0)
	if *diskCap != "" {
		if capBytes, err = parseBytes(*diskCap); err != nil || capBytes <= 0 {
			return bad("bad --disk-cap %q", *diskCap)
		}
	}
	if err := prepareSimDir(*dir); err != nil {
		fmt.Fprintln(stderr, "mm2 simulate:", err)
		return 1
	}

	var current atomic.Pointer[metrics.Collector]
	cfg := gateway.Config{Dir: *dir, Duration: time.Duration(*hours * float64(time.Hour)), Seed: *seed,
		Broker: *broker, Device: *device, Sync: policy, DiskCap: capBytes, CANSignals: *canSignals,
		Outages: *outages, OutageLen: *outageLen, Offline: *offline, PowerCut: *powerCut, PowerLoss: *powerLoss, Crash: *crash,
		Parked: *parked, Backlog: *backlog, DrainTimeout: *drainTimeout,
		OnBoot: func(m *mm2.Manager, up *uplink.Uplink) { current.Store(metrics.New(m, up)) }}
	sim, err := gateway.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "mm2 simulate:", err)
		return 1
	}
	defer sim.Close()
	if *broker == "" {
		fmt.Fprintf(stderr, "mm2 simulate: embedded MQTT broker at %s, device %q, store %s\n", sim.BrokerURL(), sim.Device(), *dir)
	} else {
		fmt.Fprintf(stderr, "mm2 simulate: MQTT broker %s, device %q, store %s\n", sim.BrokerURL(), sim.Device(), *dir)
	}

	mctx, mstop := context.WithCancel(context.WithoutCancel(ctx))
	defer mstop()
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			fmt.Fprintln(stderr, "mm2 simulate: metrics:", err)
			return 1
		}
		fmt.Fprintf(stderr, "mm2 simulate: metrics at http://%s/metrics\n", ln.Addr())
		srv := &http.Server{Handler: metricsHandler(&current), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		go func() {
			<-mctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	var wg sync.WaitGroup
	progDone := make(chan struct{})
	if !*quiet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-progDone:
					return
				case <-tick.C:
					printProgress(stderr, sim.Progress(), cfg.Duration)
				}
			}
		}()
	}
	rep, err := sim.Run(ctx)
	close(progDone)
	wg.Wait()
	if !*quiet {
		printProgress(stderr, sim.Progress(), cfg.Duration)
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mm2 simulate:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		for _, e := range rep.Events {
			fmt.Fprintln(stdout, " ", e)
		}
		fmt.Fprintln(stdout)
		rep.WriteTable(stdout)
	}
	if !rep.OK {
		return 1
	}
	return 0
}

// metricsHandler serves the metrics of the gateway's current start: a
// restart replaces the manager and the uplink, so counters start again at
// zero (Prometheus treats that as a counter reset).
func metricsHandler(current *atomic.Pointer[metrics.Collector]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		c := current.Load()
		if c == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		c.Handler().ServeHTTP(w, r)
	})
	return mux
}

// printProgress redraws the progress line.
func printProgress(w io.Writer, p gateway.Progress, total time.Duration) {
	hms := func(d time.Duration) string {
		d = d.Round(time.Second)
		return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	line := fmt.Sprintf("[%s / %s] %-22s pool %3.0f%%  disk %8s  backlog %8d  written %10d  delivered %10d  boot %d",
		hms(p.Sim), hms(total), p.Phase, p.PoolPct, humanize.Bytes(p.DiskBytes), p.Backlog, p.Written, p.Delivered, p.Boots)
	fmt.Fprintf(w, "\r%s\x1b[K", line)
}

// parseBytes reads a size: a number of bytes with an optional k, M or G
// suffix (powers of 1024; a trailing B or iB is allowed).
func parseBytes(v string) (int64, error) {
	s := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(v), "B"), "i")
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'k', 'K':
			mult, s = 1<<10, s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return int64(f * float64(mult)), nil
}

// prepareSimDir makes dir an empty store directory for a run. A directory
// that an earlier simulate made (it holds the marker) is emptied; any other
// non-empty directory is refused, so a real store is never deleted.
func prepareSimDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("store directory %s: %w", dir, err)
	case len(entries) > 0:
		marked := false
		for _, e := range entries {
			if e.Name() == simulateMarker {
				marked = true
			}
		}
		if !marked {
			return fmt.Errorf("%s is not empty and was not made by mm2 simulate; refusing to delete it (use another --dir, or empty it yourself)", dir)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("empty %s: %w", dir, err)
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, simulateMarker),
		[]byte("made by mm2 simulate; the next run empties this directory\n"), 0o644)
}
