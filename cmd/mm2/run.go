package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2go/mm2/internal/agent"
)

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the TOML configuration file (docs/service.md)")
	check := fs.Bool("check", false, "validate the configuration, list the streams it writes, and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mm2 run --config FILE [--check]")
		fmt.Fprintln(stderr, "Runs the gateway agent: inputs feed the store, the MQTT uplink drains it.")
		fmt.Fprintln(stderr, "SIGTERM or SIGINT powers the store down and exits 0; SIGHUP reloads inputs and uplink.")
		fmt.Fprintln(stderr, "Exit status: 0 stopped cleanly (or --check passed), 1 failed, 2 bad usage or invalid config.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mm2 run: need --config FILE and no other argument")
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
