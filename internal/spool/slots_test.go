package spool

import (
	"errors"
	"path"
	"testing"

	"github.com/mm2go/mm2/vfs"
)

// The two checkpoint slots: written in turn (the directory synced after a
// slot's first write only), read back with the newest generation chosen;
// a slot never written is neither valid nor damage; one that does not
// decode or is absurdly large is damage (the first quarantined, the second
// not read); one of a newer format stops ReadAll.
func TestSlots(t *testing.T) {
	mem := vfs.NewMem()
	if err := mem.MkdirAll(testDir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := NewSlots(mem, testDir)
	rs, err := s.ReadAll()
	if _, found := Latest(rs); err != nil || found || rs[0].Err != nil || rs[1].Err != nil {
		t.Fatalf("a new store: %+v, %v", rs, err)
	}
	syncs := []int{}
	for gen := uint64(1); gen <= 3; gen++ {
		c := Checkpoint{Gen: gen}
		_, n, err := s.Write(int(gen%2), AppendCheckpoint(nil, &c))
		if err != nil {
			t.Fatal(err)
		}
		syncs = append(syncs, n)
	}
	if syncs[0] != 2 || syncs[1] != 2 || syncs[2] != 1 {
		t.Fatalf("syncs per write %v, want 2 2 1 (the directory once per slot)", syncs)
	}
	rs, err = s.ReadAll()
	if best, found := Latest(rs); err != nil || !found || best.Gen != 3 {
		t.Fatalf("after three checkpoints: newest %d (found %v), %v", best.Gen, found, err)
	}

	// Slot 0 (generation 2) damaged: generation 3 is still the newest.
	damage := func(name string, b []byte) {
		f, err := mem.Create(path.Join(testDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	damage(CheckpointNames[0], []byte("not a checkpoint"))
	rs, err = s.ReadAll()
	if best, _ := Latest(rs); err != nil || best.Gen != 3 || rs[0].Err == nil || rs[0].Bytes == nil {
		t.Fatalf("one slot damaged: %+v, %v", rs, err)
	}
	if err := s.Quarantine(rs[0]); err != nil {
		t.Fatal(err)
	}
	if b, err := vfs.ReadFile(mem, path.Join(testDir, CorruptDir, CheckpointNames[0])); err != nil || string(b) != "not a checkpoint" {
		t.Fatalf("quarantined copy: %q, %v", b, err)
	}

	// Oversized: reported, not read.
	f, _ := mem.Create(path.Join(testDir, CheckpointNames[0]))
	if err := f.Truncate(MaxCheckpointBytes + 1); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	rs, err = s.ReadAll()
	if err != nil || !errors.Is(rs[0].Err, ErrFileOversized) || rs[0].Bytes != nil {
		t.Fatalf("oversized slot: %+v, %v", rs[0], err)
	}

	// A newer format stops it.
	c := Checkpoint{Gen: 4}
	b := AppendCheckpoint(nil, &c)
	b[4] = CheckpointVersion + 1
	damage(CheckpointNames[0], b)
	if _, err := s.ReadAll(); !errors.Is(err, ErrNewerCheckpoint) {
		t.Fatalf("newer format: %v", err)
	}
}
