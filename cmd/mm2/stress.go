package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/sim"
)

// stressJSON is the --json output of stress (docs/json.md).
type stressJSON struct {
	Ops             int            `json:"ops"`
	OpsPerSec       float64        `json:"ops_per_sec"`
	Violations      int            `json:"violations"`
	Error           string         `json:"error,omitempty"`
	Drops           int64          `json:"drops"`
	Writes          int64          `json:"writes"`
	RecordsCompared int64          `json:"records_compared"`
	FullErrors      int64          `json:"full_errors"`
	Seed            uint64         `json:"seed"`
	ElapsedSec      float64        `json:"elapsed_sec"`
	PerPlatform     map[string]int `json:"per_platform"`
	Recoveries      int64          `json:"recoveries"`
	Crashes         int64          `json:"crashes"`
	DiskErrors      int64          `json:"disk_errors"`
	Backend         string         `json:"backend"`
	Interrupted     bool           `json:"interrupted"`
}

const stressFields = `JSON fields (--json prints one object): ops, ops_per_sec, violations, error
(the first violation; omitted when none), drops, writes, records_compared,
full_errors, seed, elapsed_sec, per_platform {platform: ops}, recoveries,
crashes, disk_errors, backend, interrupted. Types and meanings: docs/json.md.`

func runStress(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("stress", stderr,
		"usage: mm2 stress [-n OPS] [-s SEED] [-p linux|wiced|stm32|all] [-b mock|disk] [--crash-every K] [--sync POLICY] [-d DIR] [-j] [-q]\n"+
			"Seeded random operations on the public API with the invariant check and a model comparison after each.",
		"Ctrl-C (SIGINT) or SIGTERM stops the run: the figures cover the operations that ran (\"interrupted\": true in JSON).",
		"exit status: 0 no violation, 1 an invariant violation or model mismatch, 2 bad usage",
		stressFields)
	ops := fs.Int("ops", 100_000, "operations to run (split across the platforms)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed replays the same run")
	platform := fs.String("platform", "all", "linux, wiced, stm32 or all")
	backend := fs.String("backend", "mock", "storage backend: mock, or disk (linux only; an in-memory crash-simulating filesystem)")
	crashEvery := fs.Int("crash-every", 0, "with --backend disk: crash (cycling through the crash modes) or cleanly reopen every K operations")
	syncFlag := fs.String("sync", "on-power-down", "with --backend disk: on-power-down, always, or interval:<duration>")
	poolBytes := fs.Int("pool-bytes", 0, "override the profile's pool size (0 = the profile's)")
	dir := fs.String("dir", "", "with --backend disk: leave the store here at the end (closed cleanly), for status, fsck and dump")
	reject := fs.Bool("reject-new", false, "refuse writes when full instead of dropping the oldest")
	streams := fs.Int("streams", 64, "streams per platform")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 stress: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *ops < 0 || *streams < 1 {
		fmt.Fprintln(stderr, "mm2 stress: --ops must be >= 0 and --streams >= 1")
		return 2
	}
	if *backend != "mock" && *backend != "disk" {
		fmt.Fprintf(stderr, "mm2 stress: unknown backend %q (mock or disk)\n", *backend)
		return 2
	}
	disk := *backend == "disk"
	profiles := mm2.Profiles()
	if disk {
		profiles = []mm2.Profile{mm2.ProfileLinux}
	}
	if *platform != "all" {
		p, err := mm2.ProfileByName(*platform)
		if err != nil {
			fmt.Fprintln(stderr, "mm2 stress:", err)
			return 2
		}
		if disk && !p.DiskTier {
			fmt.Fprintf(stderr, "mm2 stress: platform %s has no disk tier; use --backend mock\n", p.Name)
			return 2
		}
		profiles = []mm2.Profile{p}
	}
	policy, err := parseSync(*syncFlag)
	if err != nil {
		fmt.Fprintln(stderr, "mm2 stress:", err)
		return 2
	}
	if *dir != "" && !disk {
		fmt.Fprintln(stderr, "mm2 stress: --dir needs --backend disk")
		return 2
	}
	if *crashEvery < 0 || (*crashEvery > 0 && !disk) {
		fmt.Fprintln(stderr, "mm2 stress: --crash-every needs --backend disk and K >= 1")
		return 2
	}
	cfg := sim.StressConfig{Ops: *ops, Seed: *seed, Profiles: profiles, Streams: *streams,
		Disk: disk, Sync: policy, CrashEvery: *crashEvery, PoolBytes: *poolBytes, ExportDir: *dir}
	if disk && *poolBytes == 0 {
		cfg.PoolBytes = 8 << 10 // a small pool so the run spills to disk often
	}
	if *reject {
		cfg.Overflow = mm2.RejectNew
	}
	if !*quiet && !*asJSON {
		cfg.Progress = func(done, total int) { progressBar(stderr, done, total) }
	}
	ctx, stop := signalContext(context.Background(), nil)
	defer stop()
	cfg.Stop = func() bool { return ctx.Err() != nil }
	res := sim.Stress(cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if *asJSON {
		out := stressJSON{
			Ops: res.Ops, OpsPerSec: res.OpsPerSec(), Violations: res.Violations, Drops: res.Drops,
			Writes: res.Writes, RecordsCompared: res.Compared, FullErrors: res.FullErrors, Seed: *seed,
			ElapsedSec: res.Elapsed.Seconds(), PerPlatform: map[string]int{}, Recoveries: res.Reopens,
			Crashes: res.Crashes, DiskErrors: res.DiskErrors, Backend: *backend, Interrupted: res.Interrupted,
		}
		for k, v := range res.PerProfile {
			out.PerPlatform[k] = v
		}
		if res.FirstError != nil {
			out.Error = res.FirstError.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		fmt.Fprintf(stdout, "ops=%d ops/s=%.0f violations=%d drops=%d recoveries=%d crashes=%d disk_errors=%d writes=%d compared=%d full=%d backend=%s seed=%d elapsed=%s\n",
			res.Ops, res.OpsPerSec(), res.Violations, res.Drops, res.Reopens, res.Crashes, res.DiskErrors,
			res.Writes, res.Compared, res.FullErrors, *backend, *seed, res.Elapsed.Round(1e6))
		if res.FirstError != nil {
			fmt.Fprintln(stdout, "first violation:", res.FirstError)
		}
		if *dir != "" && res.FirstError == nil {
			fmt.Fprintln(stdout, "store left in", *dir)
		}
		if res.Interrupted {
			fmt.Fprintln(stdout, "interrupted by a signal: the figures cover the operations run")
		}
	}
	if res.Violations > 0 {
		return 1
	}
	return 0
}

// progressBar redraws one line: [#####.....] 42% 4200/10000.
func progressBar(w io.Writer, done, total int) {
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%% %d/%d", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, done, total)
}

// parseSync reads a sync policy: on-power-down, always, interval:<duration>.
func parseSync(v string) (mm2.SyncPolicy, error) {
	switch {
	case v == "on-power-down":
		return mm2.SyncOnPowerDown(), nil
	case v == "always":
		return mm2.SyncAlways(), nil
	case strings.HasPrefix(v, "interval:"):
		d, err := time.ParseDuration(strings.TrimPrefix(v, "interval:"))
		if err != nil || d <= 0 {
			return mm2.SyncPolicy{}, fmt.Errorf("bad sync interval %q", v)
		}
		return mm2.SyncInterval(d), nil
	}
	return mm2.SyncPolicy{}, fmt.Errorf("unknown sync policy %q (on-power-down, always, interval:<duration>)", v)
}
