package vfs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCrashFSCountsEveryMutatingCallAndNoRead(t *testing.T) {
	c := NewCrashFS(NewMem())
	steps := []struct {
		mutates bool
		do      func() error
	}{
		{true, func() error { return c.MkdirAll("d", 0o755) }},
		{true, func() error { _, err := c.Create("d/a"); return err }},
		{true, func() error { _, err := c.OpenAppend("d/a"); return err }},
		{false, func() error { _, err := c.Stat("d/a"); return err }},
		{false, func() error { _, err := c.ReadDir("d"); return err }},
		{true, func() error { return c.Rename("d/a", "d/b") }},
		{true, func() error { return c.SyncDir("d") }},
		{true, func() error { return c.Remove("d/b") }},
	}
	want := 0
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.mutates {
			want++
		}
		if got := c.Mutations(); got != want {
			t.Fatalf("after step %d: %d mutations, want %d", i, got, want)
		}
	}
	f, err := c.Create("f") // 1
	if err != nil {
		t.Fatal(err)
	}
	for _, do := range []func() error{
		func() error { _, err := f.Write([]byte("xy")); return err }, // 2
		f.Sync,                                // 3
		func() error { return f.Truncate(1) }, // 4
		func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err },
		func() error { _, err := f.Stat(); return err },
		f.Close,
	} {
		if err := do(); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Mutations(); got != want+4 {
		t.Fatalf("%d mutations, want %d", got, want+4)
	}
}

func TestCrashAtStopsBeforeTheNthMutationAndFailsEverythingAfter(t *testing.T) {
	c := NewCrashFS(NewMem())
	c.CrashAt(4)
	f, err := c.Create("a") // 1
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "x")                                     // 2
	syncFile(t, f)                                          // 3
	if err := c.SyncDir("/"); !errors.Is(err, ErrCrashed) { // 4: not performed
		t.Fatalf("SyncDir at the crash point: %v", err)
	}
	if !c.Crashed() || c.Mutations() != 4 {
		t.Fatalf("crashed %v after %d mutations", c.Crashed(), c.Mutations())
	}
	for name, err := range map[string]error{
		"Write":    func() error { _, err := f.Write([]byte("y")); return err }(),
		"ReadAt":   func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }(),
		"Stat":     func() error { _, err := c.Stat("a"); return err }(),
		"Open":     func() error { _, err := c.Open("a"); return err }(),
		"OpenApp":  func() error { _, err := c.OpenAppend("b"); return err }(),
		"Close":    f.Close(),
		"SyncDir":  c.SyncDir("/"),
		"MkdirAll": c.MkdirAll("d", 0o755),
	} {
		if !errors.Is(err, ErrCrashed) {
			t.Errorf("%s after the crash: %v, want ErrCrashed", name, err)
		}
	}
	if got := dump(t, c.Snapshot(CrashSynced, nil)); len(got) != 0 {
		t.Fatalf("the SyncDir that crashed took effect: %v", got)
	}
}

// commitScript appends a record, publishes a cursor file and appends a
// second record, with the sync discipline the disk tier uses. After each
// step that the discipline makes durable it calls committed.
func commitScript(fsys FS, committed func(stage int)) error {
	if err := fsys.MkdirAll("db", 0o755); err != nil {
		return err
	}
	if err := fsys.SyncDir("/"); err != nil {
		return err
	}
	log, err := fsys.OpenAppend("db/log")
	if err != nil {
		return err
	}
	if _, err := log.Write([]byte("rec1")); err != nil {
		return err
	}
	if err := log.Sync(); err != nil {
		return err
	}
	if err := fsys.SyncDir("db"); err != nil {
		return err
	}
	committed(1)
	tmp, err := fsys.Create("db/cursor.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write([]byte("cursor=1")); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := fsys.Rename("db/cursor.tmp", "db/cursor"); err != nil {
		return err
	}
	if err := fsys.SyncDir("db"); err != nil {
		return err
	}
	committed(2)
	if _, err := log.Write([]byte("rec2")); err != nil {
		return err
	}
	if err := log.Sync(); err != nil {
		return err
	}
	committed(3)
	return log.Close()
}

// checkCommitted verifies what commitScript promised by stage.
func checkCommitted(fsys FS, stage int) error {
	files := map[string]string{}
	ents, err := fsys.ReadDir("db")
	if err != nil {
		if stage == 0 {
			return nil
		}
		return err
	}
	for _, e := range ents {
		b, err := ReadFile(fsys, "db/"+e.Name())
		if err != nil {
			return err
		}
		files[e.Name()] = string(b)
	}
	log, hasLog := files["log"]
	want := []string{"", "rec1", "rec1", "rec1rec2"}[stage]
	switch {
	case stage > 0 && !hasLog:
		return fmt.Errorf("stage %d: log missing", stage)
	case !strings.HasPrefix(log, want) || !strings.HasPrefix("rec1rec2", log):
		return fmt.Errorf("stage %d: log = %q", stage, log)
	}
	cursor, hasCursor := files["cursor"]
	switch {
	case stage >= 2 && !hasCursor:
		return fmt.Errorf("stage %d: cursor missing", stage)
	case hasCursor && cursor != "cursor=1":
		return fmt.Errorf("stage %d: cursor = %q, a torn publish", stage, cursor)
	}
	return nil
}

func TestCrashAtEveryMutationKeepsWhatWasCommitted(t *testing.T) {
	count := NewCrashFS(NewMem())
	if err := commitScript(count, func(int) {}); err != nil {
		t.Fatal(err)
	}
	n := count.Mutations()
	if n < 10 {
		t.Fatalf("the script made only %d mutations", n)
	}
	for k := 1; k <= n+1; k++ {
		c := NewCrashFS(NewMem())
		c.CrashAt(k)
		stage := 0
		err := commitScript(c, func(s int) { stage = s })
		if k <= n && !errors.Is(err, ErrCrashed) {
			t.Fatalf("crash at %d: script returned %v", k, err)
		}
		for _, mode := range CrashModes() {
			for seed := range 8 {
				if err := checkCommitted(c.Snapshot(mode, rng(seed)), stage); err != nil {
					t.Fatalf("crash at %d of %d, %v seed %d: %v", k, n, mode, seed, err)
				}
			}
		}
	}
}
