package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/humanize"
)

const fsckFields = `JSON fields: dir, segments, frames (good ones), records (in good frames,
acknowledged ones included), bytes (of segment files), checkpoint_valid, clean,
damage: [{file, offset, error}]; with --repair also
repair: {repaired, quarantined: [paths under dir], rewritten: [files],
removed: [files], after: {the same report from a second check}}.`

// fsckReport is one Verify result with documented field names.
type fsckReport struct {
	Segments   int          `json:"segments"`
	Frames     int          `json:"frames"`
	Records    uint64       `json:"records"`
	Bytes      int64        `json:"bytes"`
	Checkpoint bool         `json:"checkpoint_valid"`
	Clean      bool         `json:"clean"`
	Damage     []damageJSON `json:"damage"`
}

type repairJSON struct {
	Repaired    bool       `json:"repaired"`
	Quarantined []string   `json:"quarantined"`
	Rewritten   []string   `json:"rewritten"`
	Removed     []string   `json:"removed"`
	After       fsckReport `json:"after"`
}

type fsckJSON struct {
	Dir string `json:"dir"`
	fsckReport
	Repair *repairJSON `json:"repair,omitempty"`
}

func reportOf(r mm2.VerifyReport) fsckReport {
	out := fsckReport{Segments: r.Segments, Frames: r.Frames, Records: r.Records, Bytes: r.Bytes,
		Checkpoint: r.Checkpoint, Clean: r.Clean(), Damage: []damageJSON{}}
	for _, d := range r.Damage {
		out.Damage = append(out.Damage, damageJSON{File: d.File, Offset: d.Offset, Error: errText(d.Err)})
	}
	return out
}

func runFsck(args []string, stdout, stderr io.Writer) int {
	fset := newFlags("fsck", stderr, "usage: mm2 fsck [-d DIR] [--repair] [-j]\nVerifies every frame of every segment and the checkpoint.",
		"exit status: 0 clean (with --repair: clean after the repair), 1 damage found, not a store or the store cannot be read, 2 bad usage", fsckFields)
	dir := fset.String("dir", defaultStoreDir, "store directory")
	repair := fset.Bool("repair", false, "repair as recovery at Open would: cut torn tails, copy damaged files to corrupted/ and rewrite them with their good frames, quarantine a damaged checkpoint")
	asJSON := fset.Bool("json", false, "print one JSON object")
	if status, ok := parseFlags(fset, args); !ok {
		return status
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(stderr, "mm2 fsck: unexpected argument %q\n", fset.Arg(0))
		return exitUsage
	}
	if err := checkStoreDir(*dir); err != nil {
		fmt.Fprintf(stderr, "mm2 fsck: %v\n", storeErr(*dir, err))
		return exitProblem
	}
	out := fsckJSON{Dir: *dir}
	var before map[string]fs.FileInfo
	var r mm2.VerifyReport
	var err error
	if *repair {
		before = listStore(*dir)
		r, err = mm2.Repair(*dir)
	} else {
		r, err = mm2.Verify(*dir)
	}
	out.fsckReport = reportOf(r)
	if err != nil {
		printFsck(stdout, out, *asJSON)
		fmt.Fprintf(stderr, "mm2 fsck: %v\n", err)
		return exitProblem
	}
	status := exitOK
	if !out.Clean {
		status = exitProblem
	}
	if *repair {
		rep := &repairJSON{Repaired: r.Repaired, Quarantined: []string{}, Rewritten: []string{}, Removed: []string{}}
		after := listStore(*dir)
		for _, name := range sortedKeys(after) {
			fi, ok := before[name]
			switch {
			case !ok && filepath.Dir(name) == "corrupted":
				rep.Quarantined = append(rep.Quarantined, name)
			case ok && changed(fi, after[name]):
				rep.Rewritten = append(rep.Rewritten, name)
			}
		}
		for _, name := range sortedKeys(before) {
			if _, ok := after[name]; !ok {
				rep.Removed = append(rep.Removed, name)
			}
		}
		again, err := mm2.Verify(*dir)
		rep.After = reportOf(again)
		out.Repair = rep
		if err != nil {
			printFsck(stdout, out, *asJSON)
			fmt.Fprintf(stderr, "mm2 fsck: after the repair: %v\n", err)
			return exitProblem
		}
		status = exitOK
		if !again.Clean() {
			status = exitProblem
		}
	}
	printFsck(stdout, out, *asJSON)
	return status
}

// listStore maps every file under dir (relative, slash-separated) to its
// FileInfo, so that what a repair changed can be named.
func listStore(dir string) map[string]fs.FileInfo {
	files := map[string]fs.FileInfo{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if rel, err := filepath.Rel(dir, p); err == nil {
			files[filepath.ToSlash(rel)] = fi
		}
		return nil
	})
	return files
}

// changed: replaced by a rename (another file), resized or written to.
func changed(a, b fs.FileInfo) bool {
	return !os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())
}

func sortedKeys(m map[string]fs.FileInfo) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printFsck(w io.Writer, out fsckJSON, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	fmt.Fprintf(w, "store in %s\n", out.Dir)
	printVerify(w, out.fsckReport)
	rep := out.Repair
	if rep == nil {
		if !out.Clean {
			fmt.Fprintln(w, "damage found; mm2 fsck --repair repairs it as recovery at Open would")
		}
		return
	}
	if !rep.Repaired && len(rep.Quarantined)+len(rep.Rewritten)+len(rep.Removed) == 0 {
		fmt.Fprintln(w, "repair: nothing to do")
	} else {
		fmt.Fprintln(w, "repair:")
		for _, f := range rep.Quarantined {
			fmt.Fprintf(w, "  quarantined a copy of the damaged file as %s\n", f)
		}
		for _, f := range rep.Rewritten {
			fmt.Fprintf(w, "  rewrote %s with its good frames only\n", f)
		}
		for _, f := range rep.Removed {
			fmt.Fprintf(w, "  removed %s\n", f)
		}
		if !rep.After.Checkpoint && slices.ContainsFunc(rep.Removed, isCheckpointFile) {
			fmt.Fprintln(w, "  no checkpoint now: the next Open recovers from the segments alone, as after a crash")
		}
	}
	fmt.Fprintln(w, "after the repair:")
	printVerify(w, rep.After)
}

// isCheckpointFile: state.mm2, or a slot of it (state-a.mm2, ...).
func isCheckpointFile(name string) bool {
	return strings.HasPrefix(name, "state") && strings.HasSuffix(name, ".mm2")
}

func printVerify(w io.Writer, r fsckReport) {
	var bad []string
	for _, d := range r.Damage {
		if isCheckpointFile(d.File) {
			bad = append(bad, d.File)
		}
	}
	cp := "valid"
	switch {
	case !r.Checkpoint && len(bad) == 0:
		cp = "missing"
	case !r.Checkpoint:
		cp = "damaged (" + strings.Join(bad, ", ") + ")"
	case len(bad) > 0:
		cp = "valid, damaged copy " + strings.Join(bad, ", ")
	}
	fmt.Fprintf(w, "%s, %s, %s, %s, checkpoint %s\n", humanize.Count(r.Segments, "segment"), humanize.Count(r.Frames, "frame"),
		humanize.Count(r.Records, "record"), humanize.Count(r.Bytes, "byte"), cp)
	if r.Clean {
		fmt.Fprintln(w, "clean")
		return
	}
	fmt.Fprintf(w, "damage (%s):\n", humanize.Count(len(r.Damage), "place"))
	for _, d := range r.Damage {
		fmt.Fprintf(w, "  %s offset %d: %s\n", orDash(d.File), d.Offset, d.Error)
	}
}
