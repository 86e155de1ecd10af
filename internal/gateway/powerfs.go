package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/mm2go/mm2/vfs"
)

// errDead is what every mutating call of a killed process returns.
var errDead = errors.New("gateway: the process is dead")

// PowerFS is the real filesystem as one boot of the machine sees it: what
// the page cache holds survives a process crash, what no fsync (or msync)
// covered does not survive a power cut. It remembers, for every file
// written through it, the size that the last fsync made durable, and for
// every file mapped into memory (the store's crash journal) the contents
// its last msyncs made durable.
//
// Each process of the boot sees the files through its own Process. Kill
// ends a process (kill -9): its later calls that would change a file fail
// and its mappings no longer reach the files, while everything it wrote
// stays in the page cache for the next process. Cut is the power cut: it
// kills every process and cuts every file back to what was durable, so
// the bytes the page cache held and no sync had covered are lost.
//
// What it does not simulate: creates, renames and removes of directory
// entries that no directory fsync covered survive (a real power cut may
// undo them), a synced file is kept whole (no torn sectors), and the
// kernel never writes a dirty page back on its own (the worst case).
type PowerFS struct {
	inner vfs.FS
	boot  string

	mu      sync.Mutex
	durable map[string]int64  // name -> bytes made durable by the last Sync
	written map[string]bool   // names written since they were last synced
	shadow  map[string][]byte // mapped name -> its durable contents
	procs   []*Process
}

// NewPowerFS returns a boot of the machine over the OS filesystem with the
// given boot ID (a new ID for each boot: it is how the store tells a
// process crash from a power cut).
func NewPowerFS(boot string) *PowerFS {
	return &PowerFS{inner: vfs.OS(), boot: boot, durable: map[string]int64{},
		written: map[string]bool{}, shadow: map[string][]byte{}}
}

// Process starts a process on this boot.
func (p *PowerFS) Process() *Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := &Process{p: p}
	p.procs = append(p.procs, c)
	return c
}

// Cut is the power cut: it kills every process of the boot (if not done
// yet) and cuts every file written through it back to its last synced size
// and every mapped file back to its synced contents. It returns how many
// bytes were lost (the unsynced tails, and the mapped bytes that differed
// from what was synced). Files are cut back once: later calls do nothing.
func (p *PowerFS) Cut() (lost int64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.procs {
		err = errors.Join(err, c.killLocked())
	}
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
	for name, want := range p.shadow {
		n, rerr := restore(name, want)
		lost += n
		err = errors.Join(err, rerr)
	}
	p.shadow = map[string][]byte{}
	return lost, err
}

// restore writes want over the file name and returns how many bytes
// differed.
func restore(name string, want []byte) (int64, error) {
	have, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	diff := int64(0)
	for i := range have {
		if i >= len(want) || have[i] != want[i] {
			diff++
		}
	}
	if diff == 0 && len(have) == len(want) {
		return 0, nil
	}
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return diff, err
	}
	_, err = f.WriteAt(want, 0)
	if err == nil && len(have) > len(want) {
		err = f.Truncate(int64(len(want)))
	}
	return diff, errors.Join(err, f.Close())
}

func (p *PowerFS) track(name string, f vfs.File, trunc bool) {
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
}

// Process is the filesystem as one process of a boot sees it (a vfs.FS,
// vfs.Mapper and vfs.Booter).
type Process struct {
	p    *PowerFS
	dead bool            // guarded by p.mu
	maps []*powerMapping // guarded by p.mu
}

// Kill ends the process at once (kill -9): from now on every call that
// would change a file or a directory fails, and stores into its mappings
// no longer reach the files. Reads still work, so the abandoned manager's
// state can be inspected. What it wrote stays in the page cache.
func (c *Process) Kill() error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return c.killLocked()
}

func (c *Process) killLocked() error {
	if c.dead {
		return nil
	}
	c.dead = true
	var err error
	for _, m := range c.maps {
		err = errors.Join(err, detach(m.inner.Bytes()))
	}
	return err
}

// BootID implements vfs.Booter: the boot's ID.
func (c *Process) BootID() string { return c.p.boot }

func (c *Process) check(op, name string) error {
	if c.dead {
		return &fs.PathError{Op: op, Path: name, Err: errDead}
	}
	return nil
}

// Create implements vfs.FS.
func (c *Process) Create(name string) (vfs.File, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if err := c.check("create", name); err != nil {
		return nil, err
	}
	f, err := c.p.inner.Create(name)
	if err != nil {
		return nil, err
	}
	c.p.track(name, f, true)
	return &powerFile{File: f, c: c, name: name}, nil
}

// OpenAppend implements vfs.FS.
func (c *Process) OpenAppend(name string) (vfs.File, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if err := c.check("openappend", name); err != nil {
		return nil, err
	}
	f, err := c.p.inner.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	c.p.track(name, f, false)
	return &powerFile{File: f, c: c, name: name}, nil
}

// Open implements vfs.FS (reads work after a kill: the abandoned
// manager's state is inspected, never its files changed).
// A read-only handle is wrapped too: an fsync through any descriptor
// makes the file durable, as on Linux.
func (c *Process) Open(name string) (vfs.File, error) {
	f, err := c.p.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &powerFile{File: f, c: c, name: name}, nil
}

// Rename implements vfs.FS.
func (c *Process) Rename(oldname, newname string) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := c.check("rename", oldname); err != nil {
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
	if s, ok := p.shadow[oldname]; ok {
		p.shadow[newname] = s
		delete(p.shadow, oldname)
	} else {
		delete(p.shadow, newname)
	}
	return nil
}

// Remove implements vfs.FS.
func (c *Process) Remove(name string) error {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := c.check("remove", name); err != nil {
		return err
	}
	if err := p.inner.Remove(name); err != nil {
		return err
	}
	delete(p.durable, name)
	delete(p.written, name)
	delete(p.shadow, name)
	return nil
}

// MkdirAll implements vfs.FS.
func (c *Process) MkdirAll(dir string, perm fs.FileMode) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if err := c.check("mkdir", dir); err != nil {
		return err
	}
	return c.p.inner.MkdirAll(dir, perm)
}

// ReadDir implements vfs.FS.
func (c *Process) ReadDir(dir string) ([]fs.DirEntry, error) { return c.p.inner.ReadDir(dir) }

// Stat implements vfs.FS.
func (c *Process) Stat(name string) (fs.FileInfo, error) { return c.p.inner.Stat(name) }

// SyncDir implements vfs.FS.
func (c *Process) SyncDir(dir string) error {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if err := c.check("syncdir", dir); err != nil {
		return err
	}
	return c.p.inner.SyncDir(dir)
}

// Map implements vfs.Mapper with a shared mapping of the OS file: a store
// is in the page cache at once (a later process sees it); an msync makes
// the range durable (a power cut keeps it).
func (c *Process) Map(name string, size int) (vfs.Mapping, error) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := c.check("map", name); err != nil {
		return nil, err
	}
	mp, err := vfs.Map(p.inner, name, size)
	if err != nil {
		return nil, err
	}
	b := mp.Bytes()
	// A file first mapped in this boot is durable as found (the boot
	// started with it); room the mapping added reads as zeros either way.
	if s, ok := p.shadow[name]; !ok {
		p.shadow[name] = bytes.Clone(b)
	} else if len(s) < len(b) {
		p.shadow[name] = append(s, b[len(s):]...)
	}
	m := &powerMapping{c: c, name: name, inner: mp}
	c.maps = append(c.maps, m)
	return m, nil
}

type powerMapping struct {
	c     *Process
	name  string
	inner vfs.Mapping
}

func (m *powerMapping) Bytes() []byte { return m.inner.Bytes() }

// Sync makes [off, off+n) durable: msync, then the range goes into what a
// power cut keeps.
func (m *powerMapping) Sync(off, n int) error {
	p := m.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := m.c.check("msync", m.name); err != nil {
		return err
	}
	if err := m.inner.Sync(off, n); err != nil {
		return err
	}
	b := m.inner.Bytes()
	if off < 0 || n <= 0 || off >= len(b) {
		return nil
	}
	end := min(off+n, len(b))
	s := p.shadow[m.name]
	if len(s) < end {
		s = append(s, make([]byte, end-len(s))...)
	}
	copy(s[off:end], b[off:end])
	p.shadow[m.name] = s
	return nil
}

// Close unmaps the file (a killed process's mapping stays: the abandoned
// manager may still touch its memory).
func (m *powerMapping) Close() error {
	p := m.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := m.c.check("munmap", m.name); err != nil {
		return err
	}
	return m.inner.Close()
}

type powerFile struct {
	vfs.File
	c    *Process
	name string
}

func (f *powerFile) Write(b []byte) (int, error) {
	p := f.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := f.c.check("write", f.name); err != nil {
		return 0, err
	}
	p.written[f.name] = true
	return f.File.Write(b)
}

func (f *powerFile) Sync() error {
	p := f.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := f.c.check("sync", f.name); err != nil {
		return err
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("gateway: stat after sync: %w", err)
	}
	if _, ok := p.durable[f.name]; ok {
		p.durable[f.name] = st.Size()
	}
	return nil
}

func (f *powerFile) Truncate(size int64) error {
	p := f.c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := f.c.check("truncate", f.name); err != nil {
		return err
	}
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if d, ok := p.durable[f.name]; ok && d > size {
		p.durable[f.name] = size
	}
	p.written[f.name] = true
	return nil
}
