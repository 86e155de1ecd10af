// Package limits measures what the machine itself can do, so that a store's figures can be
// stated as a fraction of it: sequential file writes with and without fsync, the rate of
// small synced writes, and memory copy bandwidth.
package limits

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Limits are the measured physical figures.
type Limits struct {
	DiskSyncedBps   float64 // sequential writes, fsync after every Chunk bytes
	DiskUnsyncedBps float64 // sequential writes, no fsync (the page cache's rate)
	SyncsPerSec     float64 // 4 KB appended and fsynced, per second
	MemCopyBps      float64 // copy of a large []byte
	Chunk           int     // write size for the disk figures
	DiskBytes       int64   // bytes written per disk figure
	CopyBytes       int     // size of the copied buffer
}

// Chunk is the write size of the sequential disk figures.
const Chunk = 64 << 10

// smallSync is the size of each write in the syncs-per-second figure: one page.
const smallSync = 4 << 10

// Measure takes every figure, writing up to diskBytes into a file in dir and copying a
// buffer of copyBytes.
func Measure(dir string, diskBytes int64, copyBytes int) (Limits, error) {
	l := Limits{Chunk: Chunk, DiskBytes: diskBytes, CopyBytes: copyBytes}
	var err error
	if l.DiskSyncedBps, err = SequentialWrite(dir, diskBytes, Chunk, true); err != nil {
		return l, err
	}
	if l.DiskUnsyncedBps, err = SequentialWrite(dir, diskBytes, Chunk, false); err != nil {
		return l, err
	}
	if l.SyncsPerSec, err = SmallSyncs(dir, 2*time.Second); err != nil {
		return l, err
	}
	l.MemCopyBps = MemCopy(copyBytes, 5)
	return l, nil
}

// SequentialWrite writes total bytes to a new file in chunk-sized writes, with an fsync
// after each chunk when sync is set, and returns bytes per second.
func SequentialWrite(dir string, total int64, chunk int, sync bool) (rate float64, err error) {
	path := filepath.Join(dir, "limits-seq.dat")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		err = errors.Join(err, f.Close(), os.Remove(path))
	}()
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + 1) // not zeros: some filesystems and devices treat those specially
	}
	start := time.Now()
	var written int64
	for written < total {
		n, err := f.Write(buf)
		if err != nil {
			return 0, fmt.Errorf("limits: write: %w", err)
		}
		written += int64(n)
		if sync {
			if err := f.Sync(); err != nil {
				return 0, fmt.Errorf("limits: fsync: %w", err)
			}
		}
	}
	return float64(written) / time.Since(start).Seconds(), nil
}

// SmallSyncs appends 4 KB and fsyncs, repeatedly for d, and returns syncs per second: the
// ceiling of any store that makes each small write durable on its own.
func SmallSyncs(dir string, d time.Duration) (rate float64, err error) {
	path := filepath.Join(dir, "limits-sync.dat")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		err = errors.Join(err, f.Close(), os.Remove(path))
	}()
	buf := make([]byte, smallSync)
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			return 0, fmt.Errorf("limits: write: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("limits: fsync: %w", err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// MemCopy copies a buffer of size bytes reps times and returns bytes per second of the best
// repetition.
func MemCopy(size, reps int) float64 {
	src := make([]byte, size)
	dst := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in before timing
	best := 0.0
	for range reps {
		start := time.Now()
		copy(dst, src)
		if r := float64(size) / time.Since(start).Seconds(); r > best {
			best = r
		}
	}
	return best
}
