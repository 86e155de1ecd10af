package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2go/mm2/internal/agent"
)

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr,
		"usage: mm2 run -c FILE [--check]",
		"Runs the gateway agent: inputs feed the store, the MQTT uplink drains it (docs/service.md).",
		"Ctrl-C (SIGINT) or SIGTERM stops the inputs and the uplink (a batch in flight is NACKed and sent",
		"again next time), powers the store down within the configured deadline and exits 0; a second",
		"signal ends the process at once. SIGHUP reloads the inputs and the uplink settings.",
		"exit status: 0 stopped cleanly (or --check passed), 1 failed (store, HTTP address, run error),",
		"2 bad usage or invalid configuration (the file, line and reason on stderr)")
	path := fs.String("config", "", "the TOML configuration file (docs/service.md)")
	check := fs.Bool("check", false, "validate the configuration, list the streams it writes, and exit")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mm2 run: need --config FILE (-c FILE) and no other argument")
		return exitUsage
	}
	plan, err := agent.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "mm2 run: invalid config: %v\n", err)
		return exitUsage
	}
	if *check {
		n := 0
		for _, pi := range plan.Inputs {
			fmt.Fprintf(stdout, "%s %q: %d streams\n", pi.Key, pi.Input.Name(), len(pi.Input.Streams()))
			for _, s := range pi.Input.Streams() {
				period := ""
				if s.Period > 0 {
					period = " " + s.Period.String()
				}
				fmt.Fprintf(stdout, "  %-16s %s%s  %s\n", s.ID, s.Kind, period, s.What)
				n++
			}
		}
		fmt.Fprintf(stdout, "%s: ok (%d inputs, %d streams)\n", *path, len(plan.Inputs), n)
		return exitOK
	}
	a, err := agent.New(*path, plan, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mm2 run: %v\n", err)
		return exitProblem
	}
	hupSig := make(chan os.Signal, 1)
	signal.Notify(hupSig, syscall.SIGHUP)
	defer signal.Stop(hupSig)
	hup := make(chan struct{}, 1)
	ctx, stop := signalContext(context.Background(), nil)
	defer stop()
	go func() {
		for {
			select {
			case <-hupSig:
				select {
				case hup <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := a.Run(ctx, hup); err != nil {
		fmt.Fprintf(stderr, "mm2 run: %v\n", err)
		return exitProblem
	}
	return exitOK
}
