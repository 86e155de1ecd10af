package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/mm2go/mm2/internal/vfs"
)

// errPowerOff is what every mutating call returns once the power is off.
var errPowerOff = errors.New("gateway: the power is off")

// PowerFS is the real filesystem as one boot of the gateway sees it. It
// remembers, for every file written through it, the size that the last
// fsync made durable. Fence cuts the power: from then on every call that
// would change a file or a directory fails, so the abandoned manager cannot
// touch the store again; Cut then cuts every file back to its last synced
// size, so the bytes the page cache still held and no fsync had covered are
// lost, as they would be on a real power cut.
//
// What it does not simulate: creates, renames and removes of directory
// entries that no directory fsync covered survive (a real power cut may
// undo them), and a synced file is kept whole (no torn sectors).
type PowerFS struct {
	inner vfs.FS

	mu      sync.Mutex
	off     bool
	durable map[string]int64 // name -> bytes made durable by the last Sync
	written map[string]bool  // names written since they were last synced
}

// NewPowerFS returns a powered filesystem over the OS.
func NewPowerFS() *PowerFS {
	return &PowerFS{inner: vfs.OS(), durable: map[string]int64{}, written: map[string]bool{}}
}

// Fence is the instant the power goes: from now on every call that would
// change a file or a directory fails. Reads still work, so the abandoned
// manager's state can be inspected.
func (p *PowerFS) Fence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = true
}

// Cut fences (if not done yet) and cuts every file written through p back
// to its last synced size. It returns how many bytes the unsynced tails held
// (now lost). Files are cut back once: later calls do nothing.
func (p *PowerFS) Cut() (lost int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.off = true
	for name := range p.written {
		keep := p.durable[name]
		st, serr := os.Stat(name)
		if serr != nil {
			continue // removed since: nothing to cut
		}
		if st.Size() > keep {
			lost += st.Size() - keep
			if terr := os.Truncate(name, keep); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}
	p.written = map[string]bool{}
	return lost, err
}

func (p *PowerFS) check(op, name string) error {
	if p.off {
		return &fs.PathError{Op: op, Path: name, Err: errPowerOff}
	}
	return nil
}

func (p *PowerFS) track(name string, f vfs.File, trunc bool) vfs.File {
	if _, ok := p.durable[name]; !ok || trunc {
		// A file first seen now: what is on disk already is durable (an
		// earlier boot synced or kept it), unless it is created empty.
		size := int64(0)
		if !trunc {
			if st, err := f.Stat(); err == nil {
				size = st.Size()
			}
		}
		p.durable[name] = size
		if trunc {
			p.written[name] = true
		}
	}
	return &powerFile{File: f, p: p, name: name}
}

// Create implements vfs.FS.
func (p *PowerFS) Create(name string) (vfs.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("create", name); err != nil {
		return nil, err
	}
	f, err := p.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return p.track(name, f, true), nil
}

// OpenAppend implements vfs.FS.
func (p *PowerFS) OpenAppend(name string) (vfs.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("openappend", name); err != nil {
		return nil, err
	}
	f, err := p.inner.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return p.track(name, f, false), nil
}

// Open implements vfs.FS (reads work with the power off: the abandoned
// manager's state is inspected, never its files changed).
func (p *PowerFS) Open(name string) (vfs.File, error) { return p.inner.Open(name) }

// Rename implements vfs.FS.
func (p *PowerFS) Rename(oldname, newname string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("rename", oldname); err != nil {
		return err
	}
	if err := p.inner.Rename(oldname, newname); err != nil {
		return err
	}
	if d, ok := p.durable[oldname]; ok {
		p.durable[newname] = d
		p.written[newname] = p.written[oldname]
		delete(p.durable, oldname)
		delete(p.written, oldname)
	} else {
		delete(p.durable, newname)
		delete(p.written, newname)
	}
	return nil
}

// Remove implements vfs.FS.
func (p *PowerFS) Remove(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("remove", name); err != nil {
		return err
	}
	if err := p.inner.Remove(name); err != nil {
		return err
	}
	delete(p.durable, name)
	delete(p.written, name)
	return nil
}

// MkdirAll implements vfs.FS.
func (p *PowerFS) MkdirAll(dir string, perm fs.FileMode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("mkdir", dir); err != nil {
		return err
	}
	return p.inner.MkdirAll(dir, perm)
}

// ReadDir implements vfs.FS.
func (p *PowerFS) ReadDir(dir string) ([]fs.DirEntry, error) { return p.inner.ReadDir(dir) }

// Stat implements vfs.FS.
func (p *PowerFS) Stat(name string) (fs.FileInfo, error) { return p.inner.Stat(name) }

// SyncDir implements vfs.FS.
func (p *PowerFS) SyncDir(dir string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.check("syncdir", dir); err != nil {
		return err
	}
	return p.inner.SyncDir(dir)
}

type powerFile struct {
	vfs.File
	p    *PowerFS
	name string
}

func (f *powerFile) Write(b []byte) (int, error) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if err := f.p.check("write", f.name); err != nil {
		return 0, err
	}
	f.p.written[f.name] = true
	return f.File.Write(b)
}

func (f *powerFile) Sync() error {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if err := f.p.check("sync", f.name); err != nil {
		return err
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("gateway: stat after sync: %w", err)
	}
	if _, ok := f.p.durable[f.name]; ok {
		f.p.durable[f.name] = st.Size()
	}
	return nil
}

func (f *powerFile) Truncate(size int64) error {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	if err := f.p.check("truncate", f.name); err != nil {
		return err
	}
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if d, ok := f.p.durable[f.name]; ok && d > size {
		f.p.durable[f.name] = size
	}
	f.p.written[f.name] = true
	return nil
}
