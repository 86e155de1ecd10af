package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses shared by the commands (the README has each command's).
const (
	exitOK      = 0 // done: passed, clean, no violation
	exitProblem = 1 // a test failed, damage found, a violation, the store cannot be read
	exitUsage   = 2 // bad usage (help asked for is not bad usage: 0)
	exitSkipped = 3 // selftest, configurations: nothing failed, but some tests did not run
)

// shortNames are the one-letter forms of the common flags: every command
// that has the long flag accepts the short one.
var shortNames = map[string]string{
	"dir":      "d",
	"json":     "j",
	"quiet":    "q",
	"verbose":  "v",
	"seed":     "s",
	"ops":      "n",
	"platform": "p",
	"backend":  "b",
	"test":     "t",
	"format":   "f",
	"config":   "c",
	"out":      "o",
}

// newFlags returns the flag set of command name. Its errors and usage go
// to stderr (stdout when help is asked for: see help in main.go). The
// usage is the synopsis lines, the flags with their short forms, then the
// epilogue lines (exit statuses, JSON fields, ...). Define the flags, then
// call parseFlags.
func newFlags(name string, stderr io.Writer, synopsis string, epilogue ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), synopsis)
		printFlags(fs)
		for _, e := range epilogue {
			fmt.Fprintln(fs.Output(), e)
		}
	}
	return fs
}

// parseFlags adds the short forms of the flags fs has and parses args.
// When ok is false the command returns status: exitOK after help was
// printed, exitUsage after a bad flag (the flag package said why).
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if short, has := shortNames[f.Name]; has && fs.Lookup(short) == nil {
			fs.Var(f.Value, short, "short for -"+f.Name)
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

// printFlags lists the flags of fs, each once with its short form:
//
//	-d, --dir string
//	      store directory (default "mm2-data")
func printFlags(fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "short for -") {
			return
		}
		name := "    --" + f.Name
		if short, has := shortNames[f.Name]; has {
			name = "-" + short + ", --" + f.Name
		}
		typ, usage := flag.UnquoteUsage(f)
		if typ != "" {
			name += " " + typ
		}
		line := "  " + name + "\n        " + usage
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			if typ == "string" {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		lines = append(lines, line)
	})
	if len(lines) > 0 {
		fmt.Fprintln(fs.Output(), "flags:")
	}
	for _, l := range lines {
		fmt.Fprintln(fs.Output(), l)
	}
}
