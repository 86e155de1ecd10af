package vfs

import (
	"errors"
	"syscall"
	"testing"
)

func TestBadBlockFS(t *testing.T) {
	b := NewBadBlockFS(NewMem())
	f, err := b.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 300)); err != nil {
		t.Fatal(err)
	}
	b.Add("f", 100, 10)
	buf := make([]byte, 50)
	for _, c := range []struct {
		off int64
		eio bool
	}{{0, false}, {51, true}, {105, true}, {109, true}, {110, false}, {200, false}} {
		_, err := f.ReadAt(buf, c.off)
		if got := errors.Is(err, syscall.EIO); got != c.eio {
			t.Errorf("ReadAt(50 bytes at %d): %v, want EIO %v", c.off, err, c.eio)
		}
	}
	r, err := b.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(buf); !errors.Is(err, syscall.EIO) {
		t.Errorf("Read of a file with a bad range: %v, want EIO", err)
	}
	b.Clear("f")
	if _, err := f.ReadAt(buf, 100); err != nil {
		t.Errorf("ReadAt after Clear: %v", err)
	}
	if _, err := r.Read(buf); err != nil {
		t.Errorf("Read after Clear: %v", err)
	}
}
