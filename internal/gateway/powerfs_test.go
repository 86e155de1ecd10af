package gateway

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mm2go/mm2/vfs"
)

func TestPowerFSCutLosesOnlyUnsyncedBytes(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("from an earlier boot"), 0o644); err != nil {
		t.Fatal(err)
	}
	machine := NewPowerFS("boot-1")
	p := machine.Process()
	f, err := p.OpenAppend(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("synced.")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("unsynced")); err != nil {
		t.Fatal(err)
	}
	g, err := p.OpenAppend(old) // existing content counts as durable
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Write([]byte(" + tail")); err != nil {
		t.Fatal(err)
	}
	tmp, err := p.Create(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write([]byte("checkpoint")); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := p.Rename(filepath.Join(dir, "tmp"), filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}

	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("after")); !errors.Is(err, errDead) {
		t.Fatalf("write after the kill: %v, want the dead-process error", err)
	}
	if err := p.Remove(old); !errors.Is(err, errDead) {
		t.Fatalf("remove after the kill: %v", err)
	}
	lost, err := machine.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if lost != int64(len("unsynced")+len(" + tail")) {
		t.Fatalf("lost %d bytes", lost)
	}
	for name, want := range map[string]string{"seg": "synced.", "old": "from an earlier boot", "state": "checkpoint"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Fatalf("%s after the cut: %q, %v; want %q", name, b, err, want)
		}
	}
}

// A mapped file keeps every store across a process crash (same boot), a
// killed process's later stores never reach it, and a power cut keeps only
// what an msync covered, also what an earlier process of the boot wrote.
func TestPowerFSMappingSurvivesProcessCrashNotPowerCut(t *testing.T) {
	name := filepath.Join(t.TempDir(), "journal")
	machine := NewPowerFS("boot-1")
	p1 := machine.Process()
	if vfs.BootID(p1) != "boot-1" {
		t.Fatalf("boot ID %q", vfs.BootID(p1))
	}
	m1, err := vfs.Map(p1, name, 8192)
	if err != nil {
		t.Fatal(err)
	}
	b := m1.Bytes()
	copy(b[0:], "synced")
	if err := m1.Sync(0, 6); err != nil {
		t.Fatal(err)
	}
	copy(b[100:], "in the page cache")
	if err := p1.Kill(); err != nil {
		t.Fatal(err)
	}
	copy(b[200:], "after the kill") // the dead process's memory only
	if err := m1.Sync(200, 14); !errors.Is(err, errDead) {
		t.Fatalf("msync after the kill: %v", err)
	}

	p2 := machine.Process() // the next process of the same boot
	m2, err := vfs.Map(p2, name, 8192)
	if err != nil {
		t.Fatal(err)
	}
	c := m2.Bytes()
	if string(c[0:6]) != "synced" || string(c[100:117]) != "in the page cache" {
		t.Fatalf("after the process crash: %q, %q", c[0:6], c[100:117])
	}
	if !bytes.Equal(c[200:214], make([]byte, 14)) {
		t.Fatalf("a store after the kill reached the file: %q", c[200:214])
	}
	copy(c[300:], "second process")
	if err := m2.Sync(300, 14); err != nil {
		t.Fatal(err)
	}
	lost, err := machine.Cut()
	if err != nil {
		t.Fatal(err)
	}
	if lost != int64(len("in the page cache")) {
		t.Fatalf("the power cut lost %d bytes", lost)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 8192)
	copy(want[0:], "synced")
	copy(want[300:], "second process")
	if !bytes.Equal(got, want) {
		t.Fatalf("after the power cut the file differs from what was synced")
	}
	if vfs.BootID(NewPowerFS("boot-2").Process()) == vfs.BootID(p2) {
		t.Fatal("the next boot has the same ID")
	}
}
