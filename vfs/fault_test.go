package vfs

import (
	"errors"
	"path"
	"strings"
	"syscall"
	"testing"
)

func TestENOSPCIsAShortWriteAndWritesResumeWhenSpaceReturns(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys FS
		dir  string
	}{
		{"mem", NewMem(), "/"},
		{"os", OS(), t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ff := NewFaultFS(tc.fsys)
			name := path.Join(tc.dir, "seg")
			f, err := ff.OpenAppend(name)
			if err != nil {
				t.Fatal(err)
			}
			ff.SetSpace(10)
			writeStr(t, f, "aaaaaa")
			n, err := f.Write([]byte("bbbbbb"))
			if n != 4 || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Write past the budget = %d, %v; want 4, ENOSPC", n, err)
			}
			if n, err := f.Write([]byte("c")); n != 0 || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Write on a full disk = %d, %v; want 0, ENOSPC", n, err)
			}
			if ff.Space() != 0 {
				t.Fatalf("Space = %d, want 0", ff.Space())
			}
			ff.SetSpace(-1)
			writeStr(t, f, "dd")
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			wantFile(t, ff, name, "aaaaaabbbbdd")
		})
	}
}

func TestFailIfInjectsEIOOnlyForTheChosenOpAndFile(t *testing.T) {
	ff := NewFaultFS(NewMem())
	ff.FailIf(func(op Op, name string) bool {
		return op == OpSync && strings.HasSuffix(name, ".log")
	})
	log, err := ff.Create("a.log")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ff.Create("a.idx")
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, log, "x")
	if err := log.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync of a.log: %v, want EIO", err)
	}
	syncFile(t, other)
	ff.FailIf(nil)
	syncFile(t, log)
}

func TestFailIfCoversDirectoryCalls(t *testing.T) {
	ff := NewFaultFS(NewMem())
	ff.FailIf(func(op Op, name string) bool { return name == "b" })
	mustWrite(t, ff, "a", "")
	for opName, err := range map[string]error{
		"create":  func() error { _, err := ff.Create("b"); return err }(),
		"rename":  ff.Rename("a", "b"),
		"mkdir":   ff.MkdirAll("b", 0o755),
		"syncdir": ff.SyncDir("b"),
		"remove":  ff.Remove("b"),
		"stat":    func() error { _, err := ff.Stat("b"); return err }(),
	} {
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("%s: %v, want EIO", opName, err)
		}
	}
	wantFile(t, ff, "a", "") // the failed rename did not happen
}

func TestFailedSyncLeavesDataNotDurable(t *testing.T) {
	mem := NewMem()
	ff := NewFaultFS(mem)
	ff.FailIf(func(op Op, _ string) bool { return op == OpSync })
	f, err := ff.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "data")
	if err := f.Sync(); err == nil {
		t.Fatal("Sync succeeded")
	}
	syncDir(t, ff, "/")
	wantFile(t, mem.CrashClone(CrashSynced, nil), "f", "")
}

func TestShortWriteIfWritesOnlyAPrefixAndReportsEIO(t *testing.T) {
	ff := NewFaultFS(NewMem())
	ff.ShortWriteIf(func(_ string, n int) int { return n / 2 })
	f, err := ff.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte("abcdef")); n != 3 || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Write = %d, %v; want 3, EIO", n, err)
	}
	ff.ShortWriteIf(nil)
	writeStr(t, f, "XY")
	wantFile(t, ff, "f", "abcXY")
}
