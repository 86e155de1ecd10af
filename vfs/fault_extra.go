package vfs

import (
	"io/fs"
	"sync"
	"syscall"
)

// BadBlockFS wraps an FS and fails reads of chosen byte ranges of chosen
// files with EIO, as a medium error (a bad block) does: a ReadAt touching
// a bad range fails whole, every other byte of the file stays readable.
// Files are named as they are opened. Read, which reads at a position the
// wrapper does not track, fails on any file with a bad range. Everything
// else passes through; compose with FaultFS for other faults.
type BadBlockFS struct {
	FS // the wrapped filesystem

	mu  sync.Mutex
	bad map[string][][2]int64 // name -> [off, end) ranges
}

// NewBadBlockFS returns a BadBlockFS over inner with no bad range.
func NewBadBlockFS(inner FS) *BadBlockFS { return &BadBlockFS{FS: inner, bad: map[string][][2]int64{}} }

// Add makes the n bytes of name at off unreadable.
func (b *BadBlockFS) Add(name string, off, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bad[name] = append(b.bad[name], [2]int64{off, off + n})
}

// Clear makes every byte of name readable again.
func (b *BadBlockFS) Clear(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.bad, name)
}

// hits reports whether [off, end) of name touches a bad range; end < 0
// means any range at all.
func (b *BadBlockFS) hits(name string, off, end int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.bad[name] {
		if end < 0 || (r[0] < end && off < r[1]) {
			return true
		}
	}
	return false
}

func (b *BadBlockFS) wrap(f File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return &badBlockFile{File: f, fs: b}, nil
}

// Create implements FS.
func (b *BadBlockFS) Create(name string) (File, error) { return b.wrap(b.FS.Create(name)) }

// OpenAppend implements FS.
func (b *BadBlockFS) OpenAppend(name string) (File, error) { return b.wrap(b.FS.OpenAppend(name)) }

// Open implements FS.
func (b *BadBlockFS) Open(name string) (File, error) { return b.wrap(b.FS.Open(name)) }

type badBlockFile struct {
	File
	fs *BadBlockFS
}

func (f *badBlockFile) Read(p []byte) (int, error) {
	if f.fs.hits(f.Name(), 0, -1) {
		return 0, &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.Read(p)
}

func (f *badBlockFile) ReadAt(p []byte, off int64) (int, error) {
	if f.fs.hits(f.Name(), off, off+int64(len(p))) {
		return 0, &fs.PathError{Op: "read", Path: f.Name(), Err: syscall.EIO}
	}
	return f.File.ReadAt(p, off)
}
