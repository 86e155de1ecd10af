// Command mm2 is the field tool of the mm2 memory manager: randomized stress
// runs, the numbered self-tests, the gateway simulation, and read-only
// inspection (status, dump) and repair (fsck) of a store on disk.
//
// Every command prints its help on stdout with -h, --help or mm2 help CMD
// and exits 0; bad usage exits 2. The exit statuses of each command are in
// the README.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
)

// command is one subcommand: it parses its own flags (parseFlags) and
// returns the exit status. Its usage and flag defaults go to stderr, which
// is stdout when help was asked for.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands: a new command is one entry here and its own file.
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

// dispatch runs the command args name. A failed write to stdout (a closed
// pipe, a full disk) turns a successful exit into 1, with the reason on
// stderr, so that a truncated output is never taken for a complete one.
func dispatch(args []string, stdout, stderr io.Writer) int {
	out := &stickyWriter{w: stdout}
	status := dispatchTo(args, out, stderr)
	if out.err != nil && status == exitOK {
		fmt.Fprintf(stderr, "mm2: writing the output: %v\n", out.err)
		return exitProblem
	}
	return status
}

func dispatchTo(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			return help(args[1], stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "mm2: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	if wantsHelp(args[1:]) {
		return help(args[0], stdout, stderr)
	}
	return cmd.run(args[1:], stdout, stderr)
}

// help prints the help of command name on stdout: the command's own usage
// text, which it writes where its errors go, asked for with --help.
func help(name string, stdout, stderr io.Writer) int {
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "mm2 help: unknown command %q\n", name)
		usage(stderr)
		return exitUsage
	}
	cmd.run([]string{"--help"}, io.Discard, stdout)
	return exitOK
}

// wantsHelp reports whether a flag argument (before a "--") asks for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mm2 <command> [flags]")
	fmt.Fprintln(w, "       mm2 help <command>     (or mm2 <command> --help) the command's flags and exit statuses")
	fmt.Fprintln(w, "       mm2 --version          module version and source revision")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
}

// versionLine is "mm2 <module version> (<revision>[, modified], <time>,
// <go version>)" from the build information the Go toolchain embeds. A
// binary built inside the module's own tree reports the version "(devel)";
// one built with -buildvcs=false (or outside a repository) has no revision.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mm2 (no build information)"
	}
	rev, when, modified := "unknown revision", "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = "revision " + s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	line := "mm2 " + bi.Main.Version + " (" + rev
	if modified {
		line += ", modified"
	}
	if when != "" {
		line += ", " + when
	}
	return line + ", " + bi.GoVersion + ")"
}

// stickyWriter passes writes on until one fails, then keeps that error and
// drops the rest.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	} else if n < len(p) {
		s.err = io.ErrShortWrite
	}
	return n, s.err
}
