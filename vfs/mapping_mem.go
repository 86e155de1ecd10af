package vfs

import "syscall"

// memMapping maps a MemFS file: Bytes is the file's current contents, so a
// store is visible to every later reader of the MemFS (as a process crash
// leaves it), and Sync copies a range into what a power cut keeps.
type memMapping struct {
	fs *MemFS
	n  *node
	b  []byte
}

// Map implements Mapper.
func (m *MemFS) Map(name string, size int) (Mapping, error) {
	if size <= 0 {
		return nil, pathErr("map", name, syscall.EINVAL)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("map", name)
	if err != nil {
		return nil, err
	}
	n, ok := d.children[base]
	switch {
	case !ok:
		n = &node{}
		m.apply(dirEdit{dir: d, name: base, child: n})
	case n.dir:
		return nil, pathErr("map", name, syscall.EISDIR)
	}
	if len(n.data) < size {
		// Preallocated blocks read as zeros whether or not a crash comes.
		n.data = resize(n.data, int64(size))
	}
	if !n.mapped {
		n.synced = resize(n.synced, int64(len(n.data)))
		copy(n.synced, n.data)
		n.pending = nil
		n.mapped = true
	}
	return &memMapping{fs: m, n: n, b: n.data[:size:size]}, nil
}

func (mm *memMapping) Bytes() []byte { return mm.b }

func (mm *memMapping) Sync(off, n int) error {
	if off < 0 || n < 0 || off+n > len(mm.b) {
		return pathErr("msync", "mapping", syscall.EINVAL)
	}
	mm.fs.mu.Lock()
	defer mm.fs.mu.Unlock()
	if len(mm.n.synced) < len(mm.n.data) {
		mm.n.synced = resize(mm.n.synced, int64(len(mm.n.data)))
	}
	copy(mm.n.synced[off:off+n], mm.b[off:off+n])
	return nil
}

func (mm *memMapping) Close() error { return nil }

// freeze detaches the file's contents from the mapping: later stores into
// the mapping no longer reach the file. CrashFS calls it at the power cut.
func (mm *memMapping) freeze() {
	mm.fs.mu.Lock()
	defer mm.fs.mu.Unlock()
	if len(mm.n.data) > 0 && len(mm.b) > 0 && &mm.n.data[0] == &mm.b[0] {
		mm.n.data = append([]byte(nil), mm.n.data...)
	}
}

// Map implements Mapper: the mapping counts as one mutating call, each Sync
// as another; stores into it after the power cut never reach the MemFS.
func (c *CrashFS) Map(name string, size int) (Mapping, error) {
	var mp Mapping
	err := c.mutate("map", name, func() (err error) {
		mp, err = c.mem.Map(name, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	mm := mp.(*memMapping)
	c.mu.Lock()
	c.maps = append(c.maps, mm)
	c.mu.Unlock()
	return &crashMapping{c: c, mm: mm}, nil
}

type crashMapping struct {
	c  *CrashFS
	mm *memMapping
}

func (m *crashMapping) Bytes() []byte { return m.mm.b }
func (m *crashMapping) Sync(off, n int) error {
	return m.c.mutate("msync", "mapping", func() error { return m.mm.Sync(off, n) })
}
func (m *crashMapping) Close() error { return m.c.check("munmap", "mapping") }

// BootID implements Booter: a MemFS is one boot; its CrashClone is the
// next one.
func (m *MemFS) BootID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.boot
}

// BootID implements Booter.
func (c *CrashFS) BootID() string { return c.mem.BootID() }

// Map implements Mapper: it fails like a Create of name, and the mapping's
// preallocation takes size bytes of the space budget. Each Sync of the
// mapping fails like a Sync of name.
func (f *FaultFS) Map(name string, size int) (Mapping, error) {
	if err := f.fail(OpCreate, name); err != nil {
		return nil, err
	}
	if fi, err := f.inner.Stat(name); err != nil || fi.Size() < int64(size) {
		if n, err := f.allow(name, size); err != nil {
			f.refund(n)
			return nil, pathErr("map", name, err)
		}
	}
	mp, err := Map(f.inner, name, size)
	if err != nil {
		return nil, err
	}
	return &faultMapping{f: f, name: name, inner: mp}, nil
}

type faultMapping struct {
	f     *FaultFS
	name  string
	inner Mapping
}

func (m *faultMapping) Bytes() []byte { return m.inner.Bytes() }
func (m *faultMapping) Sync(off, n int) error {
	if err := m.f.fail(OpSync, m.name); err != nil {
		return err
	}
	return m.inner.Sync(off, n)
}
func (m *faultMapping) Close() error { return m.inner.Close() }

// BootID implements Booter.
func (f *FaultFS) BootID() string { return BootID(f.inner) }

// BootID implements Booter.
func (r readOnly) BootID() string { return BootID(r.inner) }
