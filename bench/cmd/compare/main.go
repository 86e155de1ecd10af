// Command compare runs mm2 and the stores users pick instead of it through the same
// workloads, measures the machine's own limits in the same run, and writes a markdown report.
//
//	go run ./cmd/compare [-quick] [-out ../docs/benchmarks.md]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mm2go/mm2/bench/engine"
	"github.com/mm2go/mm2/bench/limits"
	"github.com/mm2go/mm2/bench/peers"
	"github.com/mm2go/mm2/bench/report"
	"github.com/mm2go/mm2/bench/workload"
)

// quickBudget is the default time of a -quick run, everything included. quickEnginePhase
// and fullEnginePhase cap each write and drain of the policy runs (a policy that syncs each
// sample cannot write workload a's samples in minutes; its figures are over what it did).
const (
	quickBudget      = 2*time.Minute + 40*time.Second
	quickEnginePhase = 2 * time.Second
	fullEnginePhase  = time.Minute
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type flags struct {
	quick      bool
	out        string
	systems    string
	workloads  string
	durability string
	crash      bool
	budget     time.Duration
	phase      time.Duration
	crashAfter time.Duration
	dir        string
	engine     bool
	// hidden: child process modes
	child, system, childWorkload, policy string
}

func parseFlags() flags {
	var f flags
	flag.BoolVar(&f.quick, "quick", false, "short run (a few minutes) instead of the full one")
	flag.StringVar(&f.out, "out", "", "also write the markdown report to this file")
	flag.StringVar(&f.systems, "systems", "", "comma-separated systems to run (default: all)")
	flag.StringVar(&f.workloads, "workloads", "", "comma-separated workloads to run (default: a,b,c,d; with -quick a,c,d)")
	flag.StringVar(&f.durability, "durability", "synced,notsynced", "comma-separated durability variants")
	flag.BoolVar(&f.crash, "crash", true, "run the kill -9 test")
	flag.DurationVar(&f.crashAfter, "crash-after", 0, "how long the crash child writes before it is killed (default: 1s quick, 5s full)")
	flag.BoolVar(&f.engine, "engine", true, "measure mm2's own figures: sync policies, idle store, new streams, write latency, scrape")
	flag.DurationVar(&f.budget, "budget", 0, "spread this much time over the runs by lowering each phase's cap (default: 2m40s with -quick, none without)")
	flag.DurationVar(&f.phase, "phase-limit", 0, "internal: a child's phase cap")
	flag.StringVar(&f.dir, "dir", "", "where stores are created (default: a new directory under the system temp dir)")
	flag.StringVar(&f.child, "child", "", "internal: run as a child process (run or crash)")
	flag.StringVar(&f.system, "system", "", "internal: system of a child")
	flag.StringVar(&f.childWorkload, "workload", "", "internal: workload of a child")
	flag.StringVar(&f.policy, "policy", "", "internal: mm2 sync policy of an engine child")
	flag.Parse()
	return f
}

func run() error {
	f := parseFlags()
	cfg := workload.Full()
	if f.quick {
		cfg = workload.Quick()
	}
	if f.phase > 0 {
		cfg.PhaseLimit = f.phase
	}
	if f.workloads == "" {
		f.workloads = "a,b,c,d"
		if f.quick {
			f.workloads = "a,c,d"
		}
	}
	if f.child != "" {
		if isEngineMode(f.child) {
			return runEngineChild(f.child, f.policy, f.dir, engineConfig(f.quick, cfg))
		}
		return runChild(f.child, f.system, f.durability, f.childWorkload, f.dir, cfg)
	}
	return runParent(f, cfg)
}

func runParent(f flags, cfg workload.Config) error {
	started := time.Now()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	base := f.dir
	if base == "" {
		if base, err = os.MkdirTemp("", "mm2-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(base)
	} else if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	systems, err := selectSystems(f.systems)
	if err != nil {
		return err
	}
	durabilities, err := selectDurabilities(f.durability)
	if err != nil {
		return err
	}
	rep := report.Report{
		Quick:    f.quick,
		Machine:  report.DetectMachine(base),
		Commands: []string{"cd bench", "go run ./cmd/compare " + strings.Join(os.Args[1:], " ")},
		Config:   cfg,
		Started:  started,
	}
	diskBytes, copyBytes := int64(256<<20), 256<<20
	if f.quick {
		diskBytes, copyBytes = 64<<20, 64<<20
	}
	progress("measuring the machine's limits")
	if rep.Limits, err = limits.Measure(base, diskBytes, copyBytes); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	crashAfter := f.crashAfter
	if crashAfter == 0 {
		crashAfter = 5 * time.Second
		if f.quick {
			crashAfter = time.Second
		}
	}
	childTimeout := 3*cfg.PhaseLimit + cfg.ConcurrentFor + time.Minute
	budget := f.budget
	if budget == 0 && f.quick {
		budget = quickBudget
	}
	workloads := strings.Split(f.workloads, ",")
	for _, w := range workloads {
		if !slices.Contains(workload.Names(), w) {
			return fmt.Errorf("unknown workload %q", w)
		}
	}
	if f.engine && slices.ContainsFunc(systems, func(s peers.System) bool { return s.Name == report.Reference }) {
		enginePhase := min(cfg.PhaseLimit, fullEnginePhase)
		if f.quick {
			enginePhase = quickEnginePhase
		}
		rep.Engine = runEngine(exe, base, engineConfig(f.quick, cfg), f.quick, enginePhase, childTimeout)
	}
	runsLeft := 0
	for _, sys := range systems {
		if sys.Unavailable == nil {
			runsLeft += len(durabilities) * len(workloads)
		}
	}
	// phaseLimit shares what is left of the budget among the runs still to come (two phases
	// each), so that a slow disk or a busy machine shortens runs instead of overrunning.
	phaseLimit := func() time.Duration {
		defer func() { runsLeft-- }()
		if budget <= 0 {
			return cfg.PhaseLimit
		}
		reserve := time.Duration(0)
		if f.crash {
			reserve = time.Duration(runsLeft/len(workloads)) * (crashAfter + 2*time.Second)
		}
		share := (budget - time.Since(started) - reserve) / time.Duration(2*max(runsLeft, 1))
		return min(cfg.PhaseLimit, max(share, time.Second))
	}
	// The runs go round the systems for each workload and durability, so
	// that what the machine is doing meanwhile (another tenant, the
	// filesystem's own work after a run) falls on every system alike; the
	// report lists them system by system.
	var avail []peers.System
	for _, sys := range systems {
		info := report.System{Name: sys.Name, UsedBy: sys.UsedBy, Layout: sys.Layout}
		if sys.Unavailable != nil {
			info.Unavailable = sys.Unavailable.Error()
			rep.Systems = append(rep.Systems, info)
			progress("%s: skipped: %v", sys.Name, sys.Unavailable)
			continue
		}
		rep.Systems = append(rep.Systems, info)
		avail = append(avail, sys)
	}
	results := make([][][]workload.Result, len(avail)) // by system, durability, workload
	crashes := make([][]report.Crash, len(avail))
	for i := range avail {
		results[i] = make([][]workload.Result, len(durabilities))
		for j := range durabilities {
			results[i][j] = make([]workload.Result, len(workloads))
		}
		crashes[i] = make([]report.Crash, len(durabilities))
	}
	n := 0
	for j, d := range durabilities {
		for k, w := range workloads {
			for i, sys := range avail {
				n++
				dir := filepath.Join(base, fmt.Sprintf("%02d-%s", n, sys.Name))
				t0 := time.Now()
				res := spawnRun(exe, sys, d, w, dir, f.quick, phaseLimit(), childTimeout)
				if err := os.RemoveAll(dir); err != nil {
					return err
				}
				progress("%s %s workload %s (%.0f s): write %.0f/s drain %.0f/s %.2f B/sample %s %s", sys.Name, d, w,
					time.Since(t0).Seconds(), res.WriteRate(), res.DrainRate(), res.BytesPerSample(), res.Note, res.Err)
				results[i][j][k] = res
			}
		}
		if !f.crash {
			continue
		}
		for i, sys := range avail {
			n++
			dir := filepath.Join(base, fmt.Sprintf("%02d-%s-crash", n, sys.Name))
			c := spawnCrash(exe, sys, d, dir, cfg, f.quick, crashAfter)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			progress("%s %s kill -9: reported %d recovered %d lost %d duplicated %d reopen %.3fs %s", sys.Name, d,
				c.Reported, c.Recovered, c.Lost, c.Duplicated, c.ReopenSeconds, c.Err)
			crashes[i][j] = c
		}
	}
	for i := range avail {
		for j := range durabilities {
			rep.Results = append(rep.Results, results[i][j]...)
			if f.crash {
				rep.Crashes = append(rep.Crashes, crashes[i][j])
			}
		}
	}
	rep.Elapsed = time.Since(started)
	rep.Machine.LoadEnd = report.LoadAverage()
	var buf bytes.Buffer
	if err := report.Write(&buf, rep); err != nil {
		return err
	}
	if _, err := os.Stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if f.out != "" {
		return os.WriteFile(f.out, buf.Bytes(), 0o644)
	}
	return nil
}

// engineConfig sizes mm2's own measurements: the engine package's run of the same length,
// with the workload sizes cfg gives.
func engineConfig(quick bool, cfg workload.Config) engine.Config {
	ecfg := engine.Full()
	if quick {
		ecfg = engine.Quick()
	}
	ecfg.Workload = cfg
	return ecfg
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
}

func selectSystems(list string) ([]peers.System, error) {
	if list == "" {
		return peers.All(), nil
	}
	var out []peers.System
	for _, name := range strings.Split(list, ",") {
		s, ok := peers.ByName(strings.TrimSpace(name))
		if !ok {
			return nil, fmt.Errorf("unknown system %q", name)
		}
		out = append(out, s)
	}
	return out, nil
}

func selectDurabilities(list string) ([]workload.Durability, error) {
	var out []workload.Durability
	for _, s := range strings.Split(list, ",") {
		d, err := workload.ParseDurability(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
