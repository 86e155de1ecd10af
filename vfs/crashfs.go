package vfs

import (
	"io/fs"
	"math/rand/v2"
	"sync"
)

// CrashFS is a MemFS that counts its mutating calls and can cut the power
// at the n-th one, for crash-point enumeration:
//
//	count := NewCrashFS(NewMem()); run(count); n := count.Mutations()
//	for k := 1; k <= n; k++ {
//		c := NewCrashFS(NewMem()); c.CrashAt(k); run(c) // fails with ErrCrashed
//		for _, mode := range CrashModes() { reopen and verify c.Snapshot(mode, rng) }
//	}
//
// The mutating calls are Create, OpenAppend, Rename, Remove, MkdirAll and
// SyncDir on the FS and Write, Sync and Truncate on its files. OpenAppend
// counts whether or not it creates the file.
//
// After the crash every call, reads and Close included, fails with an
// error that wraps ErrCrashed, and the MemFS underneath no longer changes.
// It must not be used directly while the CrashFS is in use.
type CrashFS struct {
	mem *MemFS

	// mu is held across each mutating call so that no call can land after
	// the crash point.
	mu      sync.Mutex
	count   int
	crashAt int // 0 when not armed
	crashed bool
	maps    []*memMapping // frozen at the power cut
}

// NewCrashFS returns a CrashFS over mem, counting from zero and not armed.
func NewCrashFS(mem *MemFS) *CrashFS { return &CrashFS{mem: mem} }

// CrashAt arms the crash: the n-th mutating call, counted from the first
// call ever made, is not performed and the power is cut just before it.
// If n mutations were already made, the next one crashes. n <= 0 disarms.
func (c *CrashFS) CrashAt(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crashAt = n
}

// Crash cuts the power now.
func (c *CrashFS) Crash() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crashed = true
	c.freeze()
}

// freeze detaches every mapping from the MemFS at the power cut. The
// caller holds c.mu.
func (c *CrashFS) freeze() {
	for _, mm := range c.maps {
		mm.freeze()
	}
}

// Crashed reports whether the power was cut.
func (c *CrashFS) Crashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

// Mutations returns how many mutating calls were made, including the one
// that crashed.
func (c *CrashFS) Mutations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// Snapshot returns what a machine would find after a power cut at the crash
// point, or now if the power was not cut; see MemFS.CrashClone.
func (c *CrashFS) Snapshot(mode CrashMode, rng *rand.Rand) *MemFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mem.CrashClone(mode, rng)
}

// mutate performs fn as one counted mutating call.
func (c *CrashFS) mutate(op, name string, fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return pathErr(op, name, ErrCrashed)
	}
	c.count++
	if c.crashAt > 0 && c.count >= c.crashAt {
		c.crashed = true
		c.freeze()
		return pathErr(op, name, ErrCrashed)
	}
	return fn()
}

// check fails a non-mutating call after the crash.
func (c *CrashFS) check(op, name string) error {
	if c.Crashed() {
		return pathErr(op, name, ErrCrashed)
	}
	return nil
}

func (c *CrashFS) openMut(name string, open func(string) (File, error)) (File, error) {
	var f File
	err := c.mutate("open", name, func() (err error) {
		f, err = open(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &crashFile{c: c, f: f}, nil
}

// Create implements FS.
func (c *CrashFS) Create(name string) (File, error) { return c.openMut(name, c.mem.Create) }

// OpenAppend implements FS.
func (c *CrashFS) OpenAppend(name string) (File, error) {
	return c.openMut(name, c.mem.OpenAppend)
}

// Open implements FS.
func (c *CrashFS) Open(name string) (File, error) {
	if err := c.check("open", name); err != nil {
		return nil, err
	}
	f, err := c.mem.Open(name)
	if err != nil {
		return nil, err
	}
	return &crashFile{c: c, f: f}, nil
}

// Rename implements FS.
func (c *CrashFS) Rename(oldname, newname string) error {
	return c.mutate("rename", oldname, func() error { return c.mem.Rename(oldname, newname) })
}

// Remove implements FS.
func (c *CrashFS) Remove(name string) error {
	return c.mutate("remove", name, func() error { return c.mem.Remove(name) })
}

// MkdirAll implements FS.
func (c *CrashFS) MkdirAll(dir string, perm fs.FileMode) error {
	return c.mutate("mkdir", dir, func() error { return c.mem.MkdirAll(dir, perm) })
}

// ReadDir implements FS.
func (c *CrashFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if err := c.check("readdir", dir); err != nil {
		return nil, err
	}
	return c.mem.ReadDir(dir)
}

// Stat implements FS.
func (c *CrashFS) Stat(name string) (fs.FileInfo, error) {
	if err := c.check("stat", name); err != nil {
		return nil, err
	}
	return c.mem.Stat(name)
}

// SyncDir implements FS.
func (c *CrashFS) SyncDir(dir string) error {
	return c.mutate("sync", dir, func() error { return c.mem.SyncDir(dir) })
}

type crashFile struct {
	c *CrashFS
	f File
}

func (f *crashFile) Read(p []byte) (int, error) {
	if err := f.c.check("read", f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

func (f *crashFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.c.check("read", f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *crashFile) Write(p []byte) (n int, err error) {
	err = f.c.mutate("write", f.f.Name(), func() (err error) {
		n, err = f.f.Write(p)
		return err
	})
	return n, err
}

func (f *crashFile) Sync() error {
	return f.c.mutate("sync", f.f.Name(), f.f.Sync)
}

func (f *crashFile) Truncate(size int64) error {
	return f.c.mutate("truncate", f.f.Name(), func() error { return f.f.Truncate(size) })
}

func (f *crashFile) Stat() (fs.FileInfo, error) {
	if err := f.c.check("stat", f.f.Name()); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *crashFile) Name() string { return f.f.Name() }

// Close closes the handle underneath even after the crash, so nothing
// leaks, but then reports the crash.
func (f *crashFile) Close() error {
	err := f.f.Close()
	if cerr := f.c.check("close", f.f.Name()); cerr != nil {
		return cerr
	}
	return err
}
