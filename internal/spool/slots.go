package spool

import (
	"errors"
	"fmt"
	"path"

	"github.com/mm2go/mm2/vfs"
)

// MaxCheckpointBytes bounds a checkpoint file read whole: 2,048 streams ×
// (state + a full stage) + the RAM tier, many times over. A larger file (a
// sparse file of gigabytes, say) is damage, never a reason to run out of
// memory.
const MaxCheckpointBytes = 64 << 20

// ErrFileOversized means a file is larger than any file of its kind the store
// writes.
var ErrFileOversized = errors.New("larger than any file the store writes")

// ReadBounded reads a whole file no larger than limit; a larger one is
// ErrFileOversized, read not at all.
func ReadBounded(fsys vfs.FS, name string, limit int64) ([]byte, error) {
	fi, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s holds %d bytes: %w (%d)", name, fi.Size(), ErrFileOversized, limit)
	}
	return vfs.ReadFile(fsys, name)
}

// Slots are a store's two checkpoint files (CheckpointNames): checkpoint
// generation g goes to slot g % 2, so the other keeps the previous one.
type Slots struct {
	fs      vfs.FS
	dir     string
	durable [2]bool // the slot's file exists durably (read at Open, or created and its directory synced)
}

// NewSlots returns the checkpoint slots of the store in dir.
func NewSlots(fsys vfs.FS, dir string) *Slots { return &Slots{fs: fsys, dir: dir} }

// SlotRead is what ReadAll found in one slot.
type SlotRead struct {
	Name       string
	Checkpoint Checkpoint
	OK         bool   // a checkpoint that decodes
	Bytes      []byte // the file's content when it does not decode (to quarantine)
	// Err is the damage found: a file too large to read or one that does
	// not decode. A slot never written (no file, or an empty one left by a
	// crash right after its creation) is neither OK nor damaged.
	Err error
}

// ErrNewerCheckpoint means a checkpoint was written by a newer format than this
// build reads.
var ErrNewerCheckpoint = errors.New("spool: checkpoint written by a newer format")

// ReadAll reads both slots. A slot written by a newer format stops it with
// ErrNewerCheckpoint (naming the file and its version): the store is not
// this build's to change.
func (s *Slots) ReadAll() ([2]SlotRead, error) {
	var out [2]SlotRead
	for i, name := range CheckpointNames {
		r := &out[i]
		r.Name = name
		b, err := ReadBounded(s.fs, path.Join(s.dir, name), MaxCheckpointBytes)
		switch {
		case errors.Is(err, ErrFileOversized):
			r.Err = err
			continue
		case err != nil, len(b) == 0:
			continue // never written, or lost before its first sync
		}
		s.durable[i] = true
		if IsNewerVersion(b) {
			return out, fmt.Errorf("%w: %s (format %d; this build reads 1 to %d)", ErrNewerCheckpoint, name, b[4], CheckpointVersion)
		}
		if r.Checkpoint, r.Err = DecodeCheckpoint(b); r.Err != nil {
			r.Bytes = b
			continue
		}
		r.OK = true
	}
	return out, nil
}

// Latest is the checkpoint of the highest generation among those that
// decode, and whether there is one.
func Latest(rs [2]SlotRead) (Checkpoint, bool) {
	var best Checkpoint
	found := false
	for _, r := range rs {
		if r.OK && (!found || r.Checkpoint.Gen > best.Gen) {
			best, found = r.Checkpoint, true
		}
	}
	return best, found
}

// Quarantine copies a slot that does not decode to the corrupted/
// directory, for a post-mortem.
func (s *Slots) Quarantine(r SlotRead) error {
	dir := path.Join(s.dir, CorruptDir)
	if err := s.fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(s.fs, path.Join(dir, r.Name), r.Bytes, dir)
}

// Write overwrites slot i with b and syncs it, and returns the bytes
// written and the syncs made (the caller counts them: it may run without
// its lock). The first write of a slot creates the file and syncs the
// directory.
func (s *Slots) Write(i int, b []byte) (written, syncs int, err error) {
	f, err := s.fs.Create(path.Join(s.dir, CheckpointNames[i]))
	if err != nil {
		return 0, 0, err
	}
	n, err := f.Write(b)
	written = max(n, 0)
	if err == nil {
		err = f.Sync()
		syncs++
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !s.durable[i] {
		if err = s.fs.SyncDir(s.dir); err == nil {
			syncs++
			s.durable[i] = true
		}
	}
	return written, syncs, err
}
