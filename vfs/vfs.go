package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// File is an open file. It is the subset of *os.File the disk tier uses.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes everything written to the file so far durable.
	Sync() error
	// Truncate changes the size of the file; growing fills with zeros.
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	// Name is the name the file was opened with.
	Name() string
}

// FS is a filesystem. Names use '/' as separator. See the package
// documentation for what each call makes durable.
type FS interface {
	// Create opens name for reading and writing, creating it if missing and
	// truncating it if present (O_RDWR|O_CREATE|O_TRUNC).
	Create(name string) (File, error)
	// OpenAppend opens name for reading and appending, creating it if
	// missing. Every Write goes to the end of the file; read with ReadAt.
	OpenAppend(name string) (File, error)
	// Open opens name read-only. Directories may be opened too.
	Open(name string) (File, error)
	// Rename atomically replaces newname, if present, with oldname.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// MkdirAll creates dir and any missing parents.
	MkdirAll(dir string, perm fs.FileMode) error
	// ReadDir lists dir, sorted by name.
	ReadDir(dir string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the creates, renames and removes of entries in dir
	// durable.
	SyncDir(dir string) error
}

// ErrCrashed is returned by every call made through a CrashFS after its
// simulated power cut.
var ErrCrashed = errors.New("vfs: simulated crash")

// ReadFile reads the whole of name.
func ReadFile(fsys FS, name string) (data []byte, err error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return io.ReadAll(f)
}

// OS returns the real filesystem.
func OS() FS { return osFS{} }

type osFS struct{}

const filePerm = 0o644

func (osFS) Create(name string) (File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
}

func (osFS) OpenAppend(name string) (File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, filePerm)
}

func (osFS) Open(name string) (File, error) { return os.Open(name) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// SyncDir opens dir and fsyncs it, which is how Linux makes the entries of
// a directory durable.
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	if serr != nil {
		return serr
	}
	return cerr
}
