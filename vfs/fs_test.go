package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"sync"
	"testing"
)

func mustWrite(t *testing.T, fsys FS, name string, chunks ...string) {
	t.Helper()
	f, err := fsys.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		if _, err := f.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, fsys FS, name, want string) {
	t.Helper()
	got, err := ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if string(got) != want {
		t.Fatalf("%s = %q, want %q", name, got, want)
	}
}

func wantMissing(t *testing.T, fsys FS, name string) {
	t.Helper()
	if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat %s: err = %v, want not exist", name, err)
	}
}

// TestFSBehavesAlikeOnOSAndMem runs one script against the real filesystem
// and MemFS, so the two cannot drift apart in what the disk tier sees.
func TestFSBehavesAlikeOnOSAndMem(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys FS
		dir  string
	}{
		{"os", OS(), t.TempDir()},
		{"mem", NewMem(), "/data"},
	} {
		t.Run(tc.name, func(t *testing.T) { exerciseFS(t, tc.fsys, tc.dir) })
	}
}

func exerciseFS(t *testing.T, fsys FS, root string) {
	dir := path.Join(root, "a", "b")
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("MkdirAll of an existing dir: %v", err)
	}
	seg := path.Join(dir, "seg")
	mustWrite(t, fsys, seg, "hello ", "world")
	wantFile(t, fsys, seg, "hello world")

	// Create truncates.
	mustWrite(t, fsys, seg, "abc")
	wantFile(t, fsys, seg, "abc")

	// OpenAppend writes at the end and reads with ReadAt.
	f, err := fsys.OpenAppend(seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("def")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 2); n != 4 || err != nil || string(buf) != "cdef" {
		t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
	}
	if n, err := f.ReadAt(buf, 4); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt past the end = %d, %v; want 2, EOF", n, err)
	}
	if err := f.Truncate(2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("Z")); err != nil {
		t.Fatal(err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 3 || fi.Name() != "seg" || fi.IsDir() {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
	wantFile(t, fsys, seg, "abZ")

	// Open is read-only.
	r, err := fsys.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		t.Fatal("Write on a read-only file succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// Rename replaces the target.
	mustWrite(t, fsys, path.Join(dir, "tmp"), "new")
	if err := fsys.Rename(path.Join(dir, "tmp"), seg); err != nil {
		t.Fatal(err)
	}
	wantFile(t, fsys, seg, "new")
	wantMissing(t, fsys, path.Join(dir, "tmp"))

	mustWrite(t, fsys, path.Join(dir, "c"), "")
	mustWrite(t, fsys, path.Join(dir, "B"), "")
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := names; len(got) != 3 || got[0] != "B" || got[1] != "c" || got[2] != "seg" {
		t.Fatalf("ReadDir = %v, want [B c seg]", got)
	}
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}

	// Errors carry the usual causes.
	if _, err := fsys.Open(path.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file: %v", err)
	}
	if err := fsys.Remove(path.Join(root, "a")); err == nil {
		t.Fatal("Remove of a non-empty directory succeeded")
	}
	if err := fsys.Remove(seg); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, fsys, seg)
	if err := fsys.Rename(seg, path.Join(dir, "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Rename of a missing file: %v", err)
	}
	if fi, err := fsys.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Stat of a directory = %v, %v", fi, err)
	}
}

func TestMemConcurrentAppendersLoseNoBytes(t *testing.T) {
	m := NewMem()
	f, err := m.OpenAppend("log")
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := f.Write([]byte{byte('a' + w)}); err != nil {
					t.Error(err)
					return
				}
			}
			if err := f.Sync(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := ReadFile(m, "log")
	if err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if n := bytes.Count(got, []byte{byte('a' + w)}); n != each {
			t.Fatalf("writer %d: %d bytes, want %d", w, n, each)
		}
	}
}

func TestMemNamesAreCleanedFromTheRoot(t *testing.T) {
	m := NewMem()
	mustWrite(t, m, "x", "1")
	wantFile(t, m, "/x", "1")
	wantFile(t, m, "./d/../x", "1")
	if _, err := m.Create("x/y"); err == nil {
		t.Fatal("Create under a file succeeded")
	}
}
