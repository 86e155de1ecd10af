package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPowerFSCutLosesOnlyUnsyncedBytes(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	if err := os.WriteFile(old, []byte("from an earlier boot"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := NewPowerFS()
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

	p.Fence()
	if _, err := f.Write([]byte("after")); !errors.Is(err, errPowerOff) {
		t.Fatalf("write after the fence: %v, want the power-off error", err)
	}
	if err := p.Remove(old); !errors.Is(err, errPowerOff) {
		t.Fatalf("remove after the fence: %v", err)
	}
	lost, err := p.Cut()
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
