package limits

import (
	"testing"
	"time"
)

func TestMeasureGivesPositiveFigures(t *testing.T) {
	dir := t.TempDir()
	seq, err := SequentialWrite(dir, 1<<20, Chunk, true)
	if err != nil || seq <= 0 {
		t.Fatalf("sequential write: %v %v", seq, err)
	}
	syncs, err := SmallSyncs(dir, 50*time.Millisecond)
	if err != nil || syncs <= 0 {
		t.Fatalf("small syncs: %v %v", syncs, err)
	}
	if c := MemCopy(1<<20, 2); c <= 0 {
		t.Fatalf("memcopy: %v", c)
	}
}
