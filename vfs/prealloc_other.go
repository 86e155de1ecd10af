//go:build darwin || freebsd || netbsd || openbsd

package vfs

import "os"

func preallocate(f *os.File, size int64) error { return preallocateByWriting(f, size) }
