package vfs

import (
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that tracks, next to the current state, what a
// power cut would leave: for every file its synced contents and the writes
// and truncations made since, and for every directory its synced entries and
// the creates, renames and removes made since. CrashClone turns that record
// into the state after a crash.
//
// Names are cleaned and taken from the root whether or not they start with
// '/'. The zero MemFS is not usable; call NewMem.
type MemFS struct {
	mu   sync.Mutex
	root *node
	// pending holds the directory operations not yet made durable by
	// SyncDir, oldest first.
	pending []*dirOp
	boot    string // BootID; a CrashClone is a new boot
}

// node is a file or a directory.
type node struct {
	dir bool

	// Files.
	data    []byte
	synced  []byte
	pending []fileOp // writes and truncations since the last Sync, oldest first
	mapped  bool     // written through a Mapping: synced holds what Sync made durable

	// Directories.
	children map[string]*node
	durable  map[string]*node // entries as of the last SyncDir
}

// fileOp is one write or truncation not yet synced.
type fileOp struct {
	trunc  bool  // a Truncate to off
	append bool  // a Write through an append handle
	off    int64 // where the write landed, or the truncated size
	data   []byte
}

// dirOp is one directory operation. A rename is one dirOp with two edits so
// that a crash keeps or loses it whole.
type dirOp struct {
	edits []dirEdit
}

// dirEdit sets dir's entry name to child, or removes it when child is nil.
type dirEdit struct {
	dir   *node
	name  string
	child *node
}

// NewMem returns an empty in-memory filesystem whose root directory exists.
func NewMem() *MemFS {
	return &MemFS{root: newDir(), boot: "mem"}
}

func newDir() *node {
	return &node{dir: true, children: map[string]*node{}, durable: map[string]*node{}}
}

func splitPath(name string) []string {
	name = path.Clean("/" + name)
	if name == "/" {
		return nil
	}
	return strings.Split(name[1:], "/")
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// walk returns the node at parts. The caller holds m.mu.
func (m *MemFS) walk(op, name string, parts []string) (*node, error) {
	n := m.root
	for _, p := range parts {
		if !n.dir {
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		c, ok := n.children[p]
		if !ok {
			return nil, pathErr(op, name, syscall.ENOENT)
		}
		n = c
	}
	return n, nil
}

// parent returns the directory that holds name and name's last element.
// The caller holds m.mu.
func (m *MemFS) parent(op, name string) (*node, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", pathErr(op, name, syscall.EINVAL)
	}
	d, err := m.walk(op, name, parts[:len(parts)-1])
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", pathErr(op, name, syscall.ENOTDIR)
	}
	return d, parts[len(parts)-1], nil
}

// apply performs a directory operation and remembers it until SyncDir.
// The caller holds m.mu.
func (m *MemFS) apply(edits ...dirEdit) {
	for _, e := range edits {
		setEntry(e.dir.children, e.name, e.child)
	}
	m.pending = append(m.pending, &dirOp{edits: edits})
}

func setEntry(entries map[string]*node, name string, child *node) {
	if child == nil {
		delete(entries, name)
	} else {
		entries[name] = child
	}
}

// open implements Create, OpenAppend and Open.
func (m *MemFS) open(name string, create, trunc, write, app bool) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("open", name)
	if err != nil {
		if len(splitPath(name)) == 0 && !write {
			return &memFile{fs: m, n: m.root, name: name, read: true}, nil
		}
		return nil, err
	}
	n, ok := d.children[base]
	switch {
	case !ok && !create:
		return nil, pathErr("open", name, syscall.ENOENT)
	case !ok:
		n = &node{}
		m.apply(dirEdit{dir: d, name: base, child: n})
	case n.dir && write:
		return nil, pathErr("open", name, syscall.EISDIR)
	case trunc:
		n.truncate(0)
	}
	return &memFile{fs: m, n: n, name: name, read: true, write: write, append: app}, nil
}

// Create implements FS.
func (m *MemFS) Create(name string) (File, error) { return m.open(name, true, true, true, false) }

// OpenAppend implements FS.
func (m *MemFS) OpenAppend(name string) (File, error) {
	return m.open(name, true, false, true, true)
}

// Open implements FS.
func (m *MemFS) Open(name string) (File, error) { return m.open(name, false, false, false, false) }

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.parent("rename", oldname)
	if err != nil {
		return err
	}
	n, ok := od.children[ob]
	if !ok {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	nd, nb, err := m.parent("rename", newname)
	if err != nil {
		return err
	}
	if od == nd && ob == nb {
		return nil
	}
	if n.dir && isPrefix(splitPath(oldname), splitPath(newname)) {
		return pathErr("rename", newname, syscall.EINVAL)
	}
	if t, ok := nd.children[nb]; ok {
		switch {
		case t.dir && !n.dir:
			return pathErr("rename", newname, syscall.EISDIR)
		case !t.dir && n.dir:
			return pathErr("rename", newname, syscall.ENOTDIR)
		case t.dir && len(t.children) > 0:
			return pathErr("rename", newname, syscall.ENOTEMPTY)
		}
	}
	m.apply(dirEdit{dir: nd, name: nb, child: n}, dirEdit{dir: od, name: ob})
	return nil
}

func isPrefix(prefix, parts []string) bool {
	return len(prefix) <= len(parts) && slices.Equal(prefix, parts[:len(prefix)])
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parent("remove", name)
	if err != nil {
		return err
	}
	n, ok := d.children[base]
	if !ok {
		return pathErr("remove", name, syscall.ENOENT)
	}
	if n.dir && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	m.apply(dirEdit{dir: d, name: base})
	return nil
}

// MkdirAll implements FS. Each directory it creates is a separate
// directory operation, durable once its parent is synced.
func (m *MemFS) MkdirAll(dir string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, p := range splitPath(dir) {
		c, ok := n.children[p]
		if !ok {
			c = newDir()
			m.apply(dirEdit{dir: n, name: p, child: c})
		} else if !c.dir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = c
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.walk("readdir", dir, splitPath(dir))
	if err != nil {
		return nil, err
	}
	if !d.dir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	names := slices.Sorted(maps.Keys(d.children))
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		out[i] = fs.FileInfoToDirEntry(d.children[name].info(name))
	}
	return out, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walk("stat", name, splitPath(name))
	if err != nil {
		return nil, err
	}
	return n.info(path.Base(path.Clean("/" + name))), nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.walk("sync", dir, splitPath(dir))
	if err != nil {
		return err
	}
	if !d.dir {
		return pathErr("sync", dir, syscall.ENOTDIR)
	}
	m.syncDir(d)
	return nil
}

// syncDir makes the pending edits of d durable, in the order they were
// made. The caller holds m.mu.
func (m *MemFS) syncDir(d *node) {
	kept := m.pending[:0]
	for _, op := range m.pending {
		rest := op.edits[:0]
		for _, e := range op.edits {
			if e.dir == d {
				setEntry(d.durable, e.name, e.child)
			} else {
				rest = append(rest, e)
			}
		}
		op.edits = rest
		if len(rest) > 0 {
			kept = append(kept, op)
		}
	}
	clear(m.pending[len(kept):])
	m.pending = kept
}

// write puts p at off, zero-filling any gap, and remembers the write.
func (n *node) write(off int64, p []byte, app bool) {
	if end := off + int64(len(p)); end > int64(len(n.data)) {
		n.data = append(n.data, make([]byte, end-int64(len(n.data)))...)
	}
	copy(n.data[off:], p)
	n.pending = append(n.pending, fileOp{append: app, off: off, data: slices.Clone(p)})
}

// truncate resizes the file and remembers it.
func (n *node) truncate(size int64) {
	n.data = resize(n.data, size)
	n.pending = append(n.pending, fileOp{trunc: true, off: size})
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func (n *node) sync() {
	n.synced = slices.Clone(n.data)
	n.pending = nil
}

func (n *node) info(name string) fs.FileInfo {
	if n.dir {
		return memInfo{name: name, mode: fs.ModeDir | 0o755}
	}
	return memInfo{name: name, size: int64(len(n.data)), mode: filePerm}
}

type memInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }
