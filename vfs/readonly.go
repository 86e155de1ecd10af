package vfs

import (
	"errors"
	"io/fs"
)

// ErrReadOnly is returned by every mutating call of a ReadOnly filesystem.
var ErrReadOnly = errors.New("vfs: read-only filesystem")

// ReadOnly wraps inner so that reads pass through and every mutation fails
// with ErrReadOnly: how diagnostics look at a store without changing it.
func ReadOnly(inner FS) FS { return readOnly{inner} }

type readOnly struct{ inner FS }

func roErr(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: ErrReadOnly} }

func (r readOnly) Create(name string) (File, error)     { return nil, roErr("create", name) }
func (r readOnly) OpenAppend(name string) (File, error) { return nil, roErr("open", name) }
func (r readOnly) Open(name string) (File, error)       { return r.inner.Open(name) }
func (r readOnly) Rename(o, n string) error             { return roErr("rename", o) }
func (r readOnly) Remove(name string) error             { return roErr("remove", name) }
func (r readOnly) ReadDir(dir string) ([]fs.DirEntry, error) {
	return r.inner.ReadDir(dir)
}
func (r readOnly) Stat(name string) (fs.FileInfo, error) { return r.inner.Stat(name) }
func (r readOnly) SyncDir(dir string) error              { return nil }

// MkdirAll succeeds when dir exists already.
func (r readOnly) MkdirAll(dir string, _ fs.FileMode) error {
	if fi, err := r.inner.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	return roErr("mkdir", dir)
}
