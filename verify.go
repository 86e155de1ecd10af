package mm2

import (
	"fmt"
	"path"

	"github.com/mm2go/mm2/internal/spool"
	"github.com/mm2go/mm2/vfs"
)

// VerifyReport is what Verify found in a store directory.
type VerifyReport struct {
	Segments   int    // segment files
	Frames     int    // good frames
	Records    uint64 // records in good frames (acknowledged ones included)
	Bytes      int64  // bytes of segment files
	Checkpoint bool   // a valid checkpoint slot is present
	Damage     []*CorruptionError
	Repaired   bool // Repair changed files (quarantined copies are in corrupted/)
}

// Clean reports whether no damage was found.
func (r VerifyReport) Clean() bool { return len(r.Damage) == 0 }

// Verify checks every frame of every segment and the checkpoint of the
// store in dir, changing nothing. A missing directory is an error; damage is
// not (it is in the report).
func Verify(dir string) (VerifyReport, error) { return VerifyFS(vfs.OS(), dir, false) }

// Repair is Verify that also does what recovery at Open would do to the
// files: cut torn tails, copy damaged segments to corrupted/ and rewrite
// them with their good frames, and quarantine a damaged checkpoint.
func Repair(dir string) (VerifyReport, error) { return VerifyFS(vfs.OS(), dir, true) }

// VerifyFS is Verify (repair false) or Repair on fsys.
func VerifyFS(fsys vfs.FS, dir string, repair bool) (VerifyReport, error) {
	var r VerifyReport
	if _, err := fsys.Stat(dir); err != nil {
		return r, err
	}
	log := spool.NewLog(fsys, dir, DefaultSegmentBytes)
	damage, err := log.Recover(func(_ spool.Pos, h spool.FrameHeader, _ []byte) (uint16, int, bool) {
		r.Frames++
		r.Records += uint64(h.Count)
		return 0, 0, false
	}, repair)
	for _, d := range damage {
		r.Damage = append(r.Damage, &CorruptionError{File: d.File, Offset: d.Offset, Err: d.Err})
	}
	r.Repaired = repair && len(damage) > 0
	if err != nil {
		return r, err
	}
	r.Segments, r.Bytes = log.Len(), log.Size()
	slots := spool.NewSlots(fsys, dir)
	rs, err := slots.ReadAll()
	if err != nil {
		return r, fmt.Errorf("mm2: %w", err) // a newer format's checkpoint: not ours to judge or repair
	}
	for _, sr := range rs {
		r.Checkpoint = r.Checkpoint || sr.OK
		if sr.Err == nil {
			continue
		}
		r.Damage = append(r.Damage, &CorruptionError{File: sr.Name, Err: sr.Err})
		if !repair || sr.Bytes == nil {
			continue // an oversized file is reported, not read
		}
		if err := slots.Quarantine(sr); err != nil {
			return r, err
		}
		if err := fsys.Remove(path.Join(dir, sr.Name)); err != nil {
			return r, err
		}
		r.Repaired = true
	}
	return r, nil
}

// Tick does the manager's periodic work: the SyncInterval sync of the
// journal when it is due, a checkpoint when the journal is half full, and a
// retry of a failed disk. Writes and ACKs do the same work as they go; Tick
// is for quiet periods. An idle store writes nothing. Errors: ErrClosed,
// disk errors.
func (m *Manager) Tick() error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if d := m.disk; d != nil {
		return d.tick()
	}
	return nil
}

// Sync makes everything written and acknowledged so far durable now,
// whatever the sync policy: one msync of the crash journal, shared with
// concurrent callers. It is how a caller groups many writes under one
// sync. The mock backend has nothing to do. Errors: ErrClosed, disk errors.
func (m *Manager) Sync() error {
	if err := m.lockOpen(); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if d := m.disk; d != nil {
		return d.sync()
	}
	return nil
}
