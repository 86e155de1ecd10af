package pool

import (
	"bytes"
	"testing"
)

// A copy holds the same sectors, chains and free list, and does not change
// when the original does; a copy of the same shape reuses its memory.
func TestCopyToIsExactAndIndependent(t *testing.T) {
	for _, wide := range []bool{true, false} {
		p, err := New(8, 32, wide)
		if err != nil {
			t.Fatal(err)
		}
		a, b := p.Alloc(), p.Alloc()
		p.SetNext(a, b)
		p.SetCount(a, 3)
		p.SetCount(b, 1)
		copy(p.Sector(a), "abc")
		c, head := p.CopyTo(nil), p.FreeHead()
		same := func(what string) {
			t.Helper()
			if c.Next(a) != b || c.Count(a) != 3 || c.Count(b) != 1 || c.Free() != 6 || c.FreeHead() != head {
				t.Fatalf("wide=%v %s: copy next %d count %d/%d free %d", wide, what, c.Next(a), c.Count(a), c.Count(b), c.Free())
			}
			if !bytes.HasPrefix(c.Sector(a), []byte("abc")) {
				t.Fatalf("wide=%v %s: sector %q", wide, what, c.Sector(a)[:3])
			}
		}
		same("after the copy")
		p.SetCount(a, 5)
		p.SetNext(a, Nil)
		copy(p.Sector(a), "xyz")
		p.Alloc()
		same("after the original changed")
		if d := p.CopyTo(c); d != c || d.Count(a) != 5 || d.Free() != 5 {
			t.Fatalf("wide=%v: a copy into a pool of the same shape: reused %v, count %d, free %d", wide, d == c, d.Count(a), d.Free())
		}
		q, _ := New(4, 32, wide)
		if d := p.CopyTo(q); d == q || d.Len() != 8 {
			t.Fatalf("wide=%v: a copy into a pool of another shape reused it", wide)
		}
	}
}
