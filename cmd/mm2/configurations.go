package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/selftest"
)

// runConfigurations runs the self-test over the profile × backend matrix
// and prints a table. Pairs that cannot exist (a profile without a disk
// tier on the disk backend) are listed as such; a backend missing from this
// build is listed as unavailable and not run. The exit status is 0 only when
// every pair that ran passed.
func runConfigurations(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("configurations", stderr,
		"usage: mm2 configurations [-t all|N[,N...]] [-n OPS] [-s SEED] [-v]",
		"Runs the self-test of every platform × backend pair and prints a table. Ctrl-C (SIGINT) or SIGTERM",
		"stops after the test in progress: the table and summary cover what ran, the rest is not run.",
		"exit status: 0 every pair that ran passed, 1 a test failed, 2 bad usage,",
		"3 none failed but some tests did not run (skipped in a pair, or interrupted)")
	ops := fs.Int("ops", selftest.DefaultOps, "operations of the stress test (12) per configuration")
	seed := fs.Uint64("seed", 1, "seed of the randomized tests")
	tests := fs.String("test", "all", "all, or test numbers N[,N...] (a test that does not apply to a backend is left out there)")
	verbose := fs.Bool("verbose", false, "print each failing configuration's failed tests")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 configurations: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *ops < 1 {
		fmt.Fprintf(stderr, "mm2 configurations: --ops %d: want at least 1\n", *ops)
		return exitUsage
	}
	var nums []int
	if *tests != "all" {
		for _, f := range strings.Split(*tests, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if _, ok := selftest.Lookup(n); err != nil || !ok {
				fmt.Fprintf(stderr, "mm2 configurations: --test %q: want all or test numbers separated by commas\n", *tests)
				return exitUsage
			}
			nums = append(nums, n)
		}
	}
	ctx, stop := signalContext(context.Background(), func(sig os.Signal) {
		fmt.Fprintf(stderr, "\nmm2 configurations: %v: stopping after the test in progress (a second signal ends the process at once)\n", sig)
	})
	defer stop()
	interrupted := func() bool { return ctx.Err() != nil }
	diskOK, diskWhy := selftest.DiskAvailable()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PLATFORM\tBACKEND\tRESULT\tTESTS\tTIME\tNOTE")
	status := exitOK
	var details []string
	ran, passed := 0, 0
	for _, p := range mm2.Profiles() {
		for _, b := range selftest.Backends() {
			if interrupted() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t%s\n", p.Name, b, "not run", "interrupted")
				continue
			}
			cfg := selftest.Config{Profile: p, Backend: b, Ops: *ops, Seed: *seed, Fault: selftestFault, Stop: interrupted}
			for _, n := range nums {
				if t, _ := selftest.Lookup(n); t.AppliesTo(b) {
					cfg.Tests = append(cfg.Tests, n)
				}
			}
			if nums != nil && cfg.Tests == nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t%s\n", p.Name, b, "n/a", "no selected test applies")
				continue
			}
			if !p.DiskTier && b == selftest.Disk {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t%s\n", p.Name, b, "n/a", "no disk tier on this platform")
				continue
			}
			if b == selftest.Disk && !diskOK {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t%s\n", p.Name, b, "unavailable", diskWhy+" (not run, not counted)")
				continue
			}
			rep, err := selftest.Run(cfg)
			if err != nil {
				fmt.Fprintln(stderr, "mm2 configurations:", err)
				return exitUsage
			}
			ran++
			note := ""
			if rep.Skipped > 0 {
				note = fmt.Sprintf("%d skipped", rep.Skipped)
			}
			if rep.Failed > 0 {
				note = fmt.Sprintf("failed: %s", failedNumbers(rep))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", p.Name, b, rep.Verdict(), rep.Passed, len(rep.Results), rep.Elapsed.Round(1_000_000), note)
			if rep.OK() {
				passed++
				continue
			}
			if s := reportStatus(rep); s == exitProblem || status == exitOK {
				status = s
			}
			if *verbose {
				for _, r := range rep.Results {
					if r.Status != selftest.Pass {
						details = append(details, fmt.Sprintf("%s/%s test %d (%s): %s %v%s", p.Name, b, r.Test.Num, r.Test.Name, r.Status, r.Err, r.Reason))
					}
				}
			}
		}
	}
	wasInterrupted := interrupted()
	stop() // cancels ctx: interrupted() is true from here on
	_ = tw.Flush()
	for _, d := range details {
		fmt.Fprintln(stdout, d)
	}
	verdict := "PASS"
	switch status {
	case exitProblem:
		verdict = "FAIL"
	case exitSkipped:
		verdict = "SKIP"
	}
	note := ""
	if wasInterrupted {
		note = " (interrupted)"
		if status == exitOK {
			status = exitSkipped
		}
	}
	fmt.Fprintf(stdout, "Configurations: %d/%d %s%s\n", passed, ran, verdict, note)
	return status
}

func failedNumbers(rep selftest.Report) string {
	var ns []string
	for _, r := range rep.Results {
		if r.Status == selftest.Fail {
			ns = append(ns, fmt.Sprint(r.Test.Num))
		}
	}
	return strings.Join(ns, ",")
}
