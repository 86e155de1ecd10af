package vfs

import (
	"fmt"
	"io/fs"
	"sync"
	"syscall"
)

// Op names a filesystem call, for FaultFS predicates.
type Op int

// The calls a FaultFS predicate is asked about.
const (
	OpCreate Op = iota + 1
	OpOpenAppend
	OpOpen
	OpRename
	OpRemove
	OpMkdirAll
	OpReadDir
	OpStat
	OpSyncDir
	OpRead // Read and ReadAt
	OpWrite
	OpSync
	OpTruncate
	OpClose
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpOpenAppend:
		return "openappend"
	case OpOpen:
		return "open"
	case OpRename:
		return "rename"
	case OpRemove:
		return "remove"
	case OpMkdirAll:
		return "mkdirall"
	case OpReadDir:
		return "readdir"
	case OpStat:
		return "stat"
	case OpSyncDir:
		return "syncdir"
	case OpRead:
		return "read"
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpTruncate:
		return "truncate"
	case OpClose:
		return "close"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// FaultFS wraps an FS and injects the faults a full or failing disk shows:
// ENOSPC once a byte budget is spent, EIO on chosen calls (a failed Sync
// among them) and short writes. Every fault can be switched on and off while
// the FS is in use, and a fresh FaultFS injects nothing. Injected errors are
// *fs.PathError values wrapping syscall.ENOSPC or syscall.EIO.
type FaultFS struct {
	inner FS

	mu      sync.Mutex
	space   int64 // bytes writes may still use; negative means no limit
	failIf  func(op Op, name string) bool
	shortIf func(name string, n int) int
	frees   bool // Remove gives the file's size back to space
}

// NewFaultFS returns a FaultFS over inner with no faults switched on.
func NewFaultFS(inner FS) *FaultFS { return &FaultFS{inner: inner, space: -1} }

// SetSpace sets how many more bytes writes may use before they fail with
// ENOSPC; a negative value removes the limit. Every byte written counts,
// overwrites included, and nothing is given back by Truncate or Remove: the
// test decides when space returns by calling SetSpace again. A write larger
// than what is left writes what fits and returns ENOSPC.
func (f *FaultFS) SetSpace(bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.space = bytes
}

// Space returns the bytes left before ENOSPC, or a negative value when
// there is no limit.
func (f *FaultFS) Space() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.space
}

// FreeOnRemove makes Remove give the removed file's size back to the space
// budget (as deleting a file frees its blocks), or stops it (the default:
// space returns only by SetSpace).
func (f *FaultFS) FreeOnRemove(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frees = on
}

// FailIf makes every call for which pred returns true fail with EIO without
// reaching the wrapped FS. A Rename is failed if pred holds for either name.
// A nil pred switches the fault off.
func (f *FaultFS) FailIf(pred func(op Op, name string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failIf = pred
}

// ShortWriteIf makes each Write of n bytes to file name write only the
// first fn(name, n) bytes and fail with EIO when that is fewer than n.
// A nil fn switches the fault off.
func (f *FaultFS) ShortWriteIf(fn func(name string, n int) int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shortIf = fn
}

// fail returns the injected error for op on names, or nil.
func (f *FaultFS) fail(op Op, names ...string) error {
	f.mu.Lock()
	pred := f.failIf
	f.mu.Unlock()
	if pred == nil {
		return nil
	}
	for _, name := range names {
		if pred(op, name) {
			return pathErr(op.String(), names[0], syscall.EIO)
		}
	}
	return nil
}

// allow returns how many of n bytes a write to name may write, and the
// error to report when that is fewer than n. The bytes are taken from the
// space budget.
func (f *FaultFS) allow(name string, n int) (int, error) {
	f.mu.Lock()
	short := f.shortIf
	f.mu.Unlock()
	var cause error
	if short != nil {
		if m := short(name, n); m < n {
			n, cause = max(m, 0), syscall.EIO
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.space >= 0 && int64(n) > f.space {
		n, cause = int(f.space), syscall.ENOSPC
	}
	if f.space >= 0 {
		f.space -= int64(n)
	}
	return n, cause
}

// refund gives back budget a write reserved but did not use.
func (f *FaultFS) refund(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.space >= 0 {
		f.space += int64(n)
	}
}

func (f *FaultFS) wrap(op Op, name string, open func(string) (File, error)) (File, error) {
	if err := f.fail(op, name); err != nil {
		return nil, err
	}
	file, err := open(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, f: file}, nil
}

// Create implements FS.
func (f *FaultFS) Create(name string) (File, error) { return f.wrap(OpCreate, name, f.inner.Create) }

// OpenAppend implements FS.
func (f *FaultFS) OpenAppend(name string) (File, error) {
	return f.wrap(OpOpenAppend, name, f.inner.OpenAppend)
}

// Open implements FS.
func (f *FaultFS) Open(name string) (File, error) { return f.wrap(OpOpen, name, f.inner.Open) }

// Rename implements FS.
func (f *FaultFS) Rename(oldname, newname string) error {
	if err := f.fail(OpRename, oldname, newname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error {
	if err := f.fail(OpRemove, name); err != nil {
		return err
	}
	f.mu.Lock()
	frees := f.frees
	f.mu.Unlock()
	var size int64
	if frees {
		if fi, err := f.inner.Stat(name); err == nil {
			size = fi.Size()
		}
	}
	if err := f.inner.Remove(name); err != nil {
		return err
	}
	f.refund(int(size))
	return nil
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(dir string, perm fs.FileMode) error {
	if err := f.fail(OpMkdirAll, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

// ReadDir implements FS.
func (f *FaultFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if err := f.fail(OpReadDir, dir); err != nil {
		return nil, err
	}
	return f.inner.ReadDir(dir)
}

// Stat implements FS.
func (f *FaultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.fail(OpStat, name); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(dir string) error {
	if err := f.fail(OpSyncDir, dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	fs *FaultFS
	f  File
}

func (f *faultFile) Read(p []byte) (int, error) {
	if err := f.fs.fail(OpRead, f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.Read(p)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.fail(OpRead, f.f.Name()); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *faultFile) Write(p []byte) (int, error) {
	name := f.f.Name()
	if err := f.fs.fail(OpWrite, name); err != nil {
		return 0, err
	}
	n, cause := f.fs.allow(name, len(p))
	written, err := f.f.Write(p[:n])
	f.fs.refund(n - written)
	if err != nil {
		return written, err
	}
	if cause != nil {
		return written, pathErr("write", name, cause)
	}
	return written, nil
}

func (f *faultFile) Sync() error {
	if err := f.fs.fail(OpSync, f.f.Name()); err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.fail(OpTruncate, f.f.Name()); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *faultFile) Stat() (fs.FileInfo, error) {
	if err := f.fs.fail(OpStat, f.f.Name()); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *faultFile) Name() string { return f.f.Name() }

// Close always closes the file underneath, so an injected failure leaks
// nothing.
func (f *faultFile) Close() error {
	err := f.f.Close()
	if ferr := f.fs.fail(OpClose, f.f.Name()); ferr != nil {
		return ferr
	}
	return err
}

// Inner is the filesystem f wraps.
func (f *FaultFS) Inner() FS { return f.inner }
