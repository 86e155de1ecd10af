package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/sim"
)

func runStress(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stress", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := fs.Int("ops", 100_000, "operations to run (split across the platforms)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed replays the same run")
	platform := fs.String("platform", "all", "linux, wiced, stm32 or all")
	backend := fs.String("backend", "mock", "storage backend: mock")
	reject := fs.Bool("reject-new", false, "refuse writes when full instead of dropping the oldest")
	streams := fs.Int("streams", 64, "streams per platform")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *ops < 0 || *streams < 1 {
		fmt.Fprintln(stderr, "mm2 stress: --ops must be >= 0 and --streams >= 1")
		return 2
	}
	if *backend != "mock" {
		fmt.Fprintf(stderr, "mm2 stress: backend %q is not available in this build (mock only)\n", *backend)
		return 2
	}
	profiles := mm2.Profiles()
	if *platform != "all" {
		p, err := mm2.ProfileByName(*platform)
		if err != nil {
			fmt.Fprintln(stderr, "mm2 stress:", err)
			return 2
		}
		profiles = []mm2.Profile{p}
	}
	cfg := sim.StressConfig{Ops: *ops, Seed: *seed, Profiles: profiles, Streams: *streams}
	if *reject {
		cfg.Overflow = mm2.RejectNew
	}
	if !*quiet && !*asJSON {
		cfg.Progress = func(done, total int) { progressBar(stderr, done, total) }
	}
	res := sim.Stress(cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if *asJSON {
		out := map[string]any{
			"ops": res.Ops, "ops_per_sec": res.OpsPerSec(), "violations": res.Violations,
			"drops": res.Drops, "writes": res.Writes, "records_compared": res.Compared,
			"full_errors": res.FullErrors, "seed": *seed, "elapsed_sec": res.Elapsed.Seconds(),
			"per_platform": res.PerProfile, "recoveries": 0,
		}
		if res.FirstError != nil {
			out["error"] = res.FirstError.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		fmt.Fprintf(stdout, "ops=%d ops/s=%.0f violations=%d drops=%d recoveries=0 writes=%d compared=%d full=%d seed=%d elapsed=%s\n",
			res.Ops, res.OpsPerSec(), res.Violations, res.Drops, res.Writes, res.Compared, res.FullErrors, *seed, res.Elapsed.Round(1e6))
		if res.FirstError != nil {
			fmt.Fprintln(stdout, "first violation:", res.FirstError)
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
