package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/selftest"
)

// selftestFault is a test-only hook: the tests of this package set it to
// show that a fault makes the matching numbered test, the summary line and
// the exit status fail. The command line cannot reach it.
var selftestFault selftest.Fault

func runSelftest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("selftest", stderr,
		"usage: mm2 selftest [-p linux|wiced|stm32] [-b mock|disk] [-t all|N[,N...]] [-n OPS] [-s SEED] [-q|-v|--detailed] [--list]",
		"Ctrl-C (SIGINT) or SIGTERM stops after the test in progress (the stress test stops at once): the",
		"summary covers what ran, the rest is skipped as interrupted, and the temporary directory is removed.",
		"exit status: 0 all passed, 1 a test failed, 2 bad usage, 3 some tests did not run (none failed; also when interrupted)")
	platform := fs.String("platform", "linux", "linux, wiced or stm32")
	backend := fs.String("backend", "mock", "mock (RAM only) or disk (linux only)")
	tests := fs.String("test", "all", "all, or test numbers N[,N...]")
	ops := fs.Int("ops", selftest.DefaultOps, "operations of the stress test (12)")
	seed := fs.Uint64("seed", 1, "seed of the randomized tests")
	dir := fs.String("dir", "", "parent directory for disk-backend stores (default: a temporary directory, removed afterwards)")
	quiet := fs.Bool("quiet", false, "print only the summary line")
	verbose := fs.Bool("verbose", false, "one line per test with its figures")
	detailed := fs.Bool("detailed", false, "as --verbose, plus the state of every manager a test used")
	list := fs.Bool("list", false, "list the tests and exit")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 selftest: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *list {
		for _, t := range selftest.Tests() {
			only := ""
			if t.Backends != nil {
				only = fmt.Sprintf(" (%s only)", joinBackends(t.Backends))
			}
			fmt.Fprintf(stdout, "%4d  %s%s\n", t.Num, t.Name, only)
		}
		return exitOK
	}
	modes := 0
	for _, b := range []bool{*quiet, *verbose, *detailed} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		fmt.Fprintln(stderr, "mm2 selftest: choose one of --quiet, --verbose and --detailed")
		return exitUsage
	}
	cfg, err := selftestConfig(*platform, *backend, *tests, *ops)
	if err != nil {
		fmt.Fprintln(stderr, "mm2 selftest:", err)
		return exitUsage
	}
	cfg.Seed, cfg.Dir, cfg.Fault = *seed, *dir, selftestFault
	if !*quiet && cfg.Ops >= 1_000_000 {
		cfg.Progress = func(done, total int) { progressBar(stderr, done, total) }
	}
	ctx, stop := signalContext(context.Background(), func(sig os.Signal) {
		fmt.Fprintf(stderr, "\nmm2 selftest: %v: stopping after the test in progress (a second signal ends the process at once)\n", sig)
	})
	defer stop()
	cfg.Stop = func() bool { return ctx.Err() != nil }
	rep, err := selftest.Run(cfg)
	stop()
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "mm2 selftest:", err)
		return exitUsage
	}
	if !*quiet {
		printResults(stdout, rep, *verbose || *detailed, *detailed)
	}
	fmt.Fprintln(stdout, rep.Line())
	return reportStatus(rep)
}

// selftestConfig turns the flags into a Config, or says why they cannot be.
func selftestConfig(platform, backend, tests string, ops int) (selftest.Config, error) {
	p, err := mm2.ProfileByName(platform)
	if err != nil {
		return selftest.Config{}, fmt.Errorf("unknown platform %q (want linux, wiced or stm32)", platform)
	}
	b, err := selftest.ParseBackend(backend)
	if err != nil {
		return selftest.Config{}, err
	}
	if ops < 1 {
		return selftest.Config{}, fmt.Errorf("--ops %d: want at least 1", ops)
	}
	cfg := selftest.Config{Profile: p, Backend: b, Ops: ops}
	if tests != "all" && tests != "" {
		for _, f := range strings.Split(tests, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return selftest.Config{}, fmt.Errorf("--test %q: want all or numbers separated by commas", tests)
			}
			cfg.Tests = append(cfg.Tests, n)
		}
	}
	if err := selftest.Validate(cfg); err != nil {
		return selftest.Config{}, unwrapBad(err)
	}
	return cfg, nil
}

// unwrapBad drops the "selftest: bad configuration: " prefix for the user.
func unwrapBad(err error) error {
	msg := strings.TrimPrefix(err.Error(), selftest.ErrBadConfig.Error()+": ")
	return fmt.Errorf("%s", msg)
}

func reportStatus(rep selftest.Report) int {
	switch {
	case rep.Failed > 0:
		return exitProblem
	case rep.Skipped > 0:
		return exitSkipped
	}
	return exitOK
}

// printResults prints one line per test; with figures, the numbers each
// test reports; with dumps, the state of its managers. A failure's reason
// is always shown.
func printResults(w io.Writer, rep selftest.Report, figures, dumps bool) {
	fmt.Fprintf(w, "mm2 selftest: platform %s, backend %s\n", rep.Profile.Name, rep.Backend)
	for _, r := range rep.Results {
		line := fmt.Sprintf("%s %4d  %-58s", r.Status, r.Test.Num, r.Test.Name)
		if figures && r.Status != selftest.Skip {
			line += "  " + r.FiguresString() + fmt.Sprintf("  (%s)", r.Elapsed.Round(time.Microsecond))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		switch r.Status {
		case selftest.Fail:
			fmt.Fprintf(w, "           %s\n", strings.ReplaceAll(r.Err.Error(), "\n", "\n           "))
		case selftest.Skip:
			fmt.Fprintf(w, "           skipped: %s\n", r.Reason)
		}
		if dumps && r.Dump != "" {
			fmt.Fprintf(w, "           %s\n", strings.ReplaceAll(strings.TrimRight(r.Dump, "\n"), "\n", "\n           "))
		}
	}
	interrupted := ""
	if rep.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped in %s%s\n", rep.Passed, rep.Failed, rep.Skipped, rep.Elapsed.Round(1_000_000), interrupted)
}

func joinBackends(bs []selftest.Backend) string {
	s := make([]string, len(bs))
	for i, b := range bs {
		s[i] = string(b)
	}
	return strings.Join(s, ", ")
}
