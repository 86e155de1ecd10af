package mm2_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/vfs"
)

func TestDbgCrash(t *testing.T) {
	k := 3985
	mode := vfs.CrashSubset
	cfs := vfs.NewCrashFS(vfs.NewMem())
	cfs.CrashAt(k)
	sc := newCrashScript(mm2.SyncAlways())
	sc.run(cfs)
	t.Logf("written %v acked %v done %v drops %d doubt %v acking %v", sc.written, sc.acked, sc.done, sc.drops, sc.doubt, sc.acking)
	snap := cfs.Snapshot(mode, rand.New(rand.NewPCG(uint64(k), uint64(mode))))
	ents, _ := snap.ReadDir("store")
	for _, e := range ents {
		fi, _ := e.Info()
		t.Logf("%s %d", e.Name(), fi.Size())
	}
	m, err := mm2.OpenFS(sc.opts, snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range sc.ids {
		s, _ := m.Stream(id)
		t.Logf("%v: %+v", id, s.Stats())
	}
	t.Logf("%+v", m.Stats())
	t.Log(sc.verify(cfs.Snapshot(mode, rand.New(rand.NewPCG(uint64(k), uint64(mode)))), true))
}
