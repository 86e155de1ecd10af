package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mm2go/mm2/vfs"
)

func entry(i int) []byte { return []byte(fmt.Sprintf("entry-%d", i)) }

func collect(t *testing.T, fsys vfs.FS, e uint64) [][]byte {
	t.Helper()
	b, err := vfs.ReadFile(fsys, Names[e%2])
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	Entries(b, e, func(p []byte) { out = append(out, bytes.Clone(p)) })
	return out
}

func TestAppendSurvivesProcessCrashWithoutSync(t *testing.T) {
	mem := vfs.NewMem()
	j, err := Open(mem, "", MinSize)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(7, "boot-a", 0)
	for i := range 20 {
		if err := j.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A process crash: the MemFS keeps every store into the mapping.
	got := collect(t, mem, 7)
	if len(got) != 20 || !bytes.Equal(got[19], entry(19)) {
		t.Fatalf("got %d entries after a process crash, want 20", len(got))
	}
	b, _ := vfs.ReadFile(mem, Names[1])
	if h, err := ParseHeader(b); err != nil || h.Boot != "boot-a" || h.Epoch != 7 {
		t.Fatalf("header %+v %v", h, err)
	}
	// A power cut keeps nothing unsynced.
	if got := collect(t, mem.CrashClone(vfs.CrashSynced, nil), 7); len(got) != 0 {
		t.Fatalf("%d unsynced entries survived a power cut", len(got))
	}
	if err := j.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, mem.CrashClone(vfs.CrashSynced, nil), 7); len(got) != 20 {
		t.Fatalf("%d synced entries survived a power cut, want 20", len(got))
	}
}

func TestNewEpochHidesTheOldOne(t *testing.T) {
	mem := vfs.NewMem()
	j, _ := Open(mem, "", MinSize)
	j.Start(2, "b", 0)
	for i := range 30 {
		_ = j.Append(entry(i))
	}
	j.Start(4, "b", 0) // same file, two checkpoints later
	_ = j.Append(entry(100))
	got := collect(t, mem, 4)
	if len(got) != 1 || !bytes.Equal(got[0], entry(100)) {
		t.Fatalf("epoch 4 holds %d entries, want the 1 appended", len(got))
	}
	if got := collect(t, mem, 2); len(got) != 0 {
		t.Fatalf("epoch 2 still readable: %d entries", len(got))
	}
}

func TestFullRefusesAndAddsNothing(t *testing.T) {
	j, _ := Open(vfs.NewMem(), "", MinSize)
	j.Start(1, "", 0)
	n := 0
	for ; ; n++ {
		if err := j.Append(entry(n)); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatal(err)
			}
			break
		}
	}
	if n < 100 || j.UsedOver(100) {
		t.Fatalf("only %d entries fit, or more than the file (offset %d)", n, j.Off())
	}
}

// A power cut that keeps a random subset of the dirty pages, or a torn
// prefix, leaves a prefix of the entries: never one after a missing one.
func TestPowerCutLeavesAPrefix(t *testing.T) {
	for seed := range uint64(50) {
		mem := vfs.NewMem()
		j, _ := Open(mem, "", 4*MinSize)
		j.Start(3, "x", 0)
		for i := range 900 {
			if err := j.Append(entry(i)); err != nil {
				break
			}
		}
		for _, mode := range vfs.CrashModes() {
			got := collect(t, mem.CrashClone(mode, rand.New(rand.NewPCG(seed, 9))), 3)
			for i, p := range got {
				if !bytes.Equal(p, entry(i)) {
					t.Fatalf("seed %d %v: entry %d is %q", seed, mode, i, p)
				}
			}
		}
	}
}

func TestBadHeaders(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, HeaderSize), bytes.Repeat([]byte{0xff}, HeaderSize)} {
		if _, err := ParseHeader(b); err == nil {
			t.Fatalf("header %x accepted", b)
		}
		if n := Entries(b, 0, func([]byte) { t.Fatal("entry from a bad file") }); n != 0 {
			t.Fatal(n)
		}
	}
	if _, err := Open(vfs.NewMem(), "", 100); err == nil {
		t.Fatal("tiny journal accepted")
	}
}

// Each Sync makes every entry appended before it durable, the first byte
// of the next entry's place included (a sync range once left it out).
func TestEverySyncedEntrySurvivesAPowerCut(t *testing.T) {
	c := vfs.NewCrashFS(vfs.NewMem())
	j, err := Open(c, "", MinSize)
	if err != nil {
		t.Fatal(err)
	}
	j.Start(1, "b", FlagDurable)
	for i := range 40 {
		if err := j.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
		if i%3 != 1 {
			if err := j.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = j.Append(entry(99)) // never synced
	got := collect(t, c.Snapshot(vfs.CrashSynced, nil), 1)
	if len(got) != 40 {
		t.Fatalf("%d entries survived, want the 40 synced", len(got))
	}
	if j.Dirty() != true || j.Covers(1, j.off+1) {
		t.Fatal("the unsynced entry counts as durable")
	}
}

// UsedOver says whether more than a share of the file holds entries: never
// past 100 %, from the first entry past 0 %, past 50 % exactly once the
// entries reach beyond the file's middle, and once true it stays true.
func TestUsedOverFollowsTheFill(t *testing.T) {
	j, _ := Open(vfs.NewMem(), "", MinSize)
	j.Start(1, "", 0)
	was := map[int]bool{}
	for n := 0; j.Append(entry(n)) == nil; n++ {
		if j.UsedOver(100) || !j.UsedOver(0) {
			t.Fatalf("after %d entries: over 100 %% %v, over 0 %% %v", n+1, j.UsedOver(100), j.UsedOver(0))
		}
		if got, want := j.UsedOver(50), j.Off() > MinSize/2; got != want {
			t.Fatalf("after %d entries (offset %d of %d): over 50 %% = %v", n+1, j.Off(), MinSize, got)
		}
		for _, p := range []int{50, 90} {
			if was[p] && !j.UsedOver(p) {
				t.Fatalf("after %d entries: over %d %% went back to false", n+1, p)
			}
			was[p] = j.UsedOver(p)
		}
	}
	if !was[90] {
		t.Fatal("a full journal is not over 90 %")
	}
}
