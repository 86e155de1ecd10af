// Command mm2 is the field tool of the mm2 memory manager: randomized stress
// runs now; self-tests, diagnostics and the gateway simulation as they land.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it parses its own flags and returns the exit status.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"stress":         {"seeded random operations with Check() after each", runStress},
	"selftest":       {"numbered field self-tests of one platform and backend", runSelftest},
	"configurations": {"self-test over every platform × backend pair", runConfigurations},
	"simulate":       {"a vehicle gateway's drive end to end: CAN, GPS, outages, power cut, crash, accounting", runSimulate},
	"status":         {"what a store holds, per source and stream (read-only)", runStatus},
	"fsck":           {"verify every frame of a store; --repair quarantines and cuts", runFsck},
	"dump":           {"every unacknowledged record of a store as JSONL or CSV (read-only)", runDump},
	"run":            {"the gateway agent: inputs (CAN, gpsd, host, line protocol) → store → MQTT uplink (--config FILE)", runRun},
	"decode":         {"uplink payloads from a file or stdin as JSON lines", runDecode},
	"sink":           {"the cloud side: subscribe, decode, drop duplicates, report gaps, write JSON lines", runSink},
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mm2: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mm2 <command> [flags]   (mm2 <command> -h for its flags)")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
}
