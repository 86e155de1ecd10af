package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkLineProtocolTCP: points of two mapped fields sent over one TCP
// connection into a disk store, until every record is stored. Run with
// -cpu 1 for the rate on one core (the sending goroutine shares it).
func BenchmarkLineProtocolTCP(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	doc := fmt.Sprintf(`[store]
dir = %q
disk_cap_bytes = 1073741824
[[inputs.line_protocol]]
name = "lp"
listen = "tcp://%s"
  [[inputs.line_protocol.map]]
  measurement = "env"
  field = "temp"
  sensor = 1
  [[inputs.line_protocol.map]]
  measurement = "env"
  field = "count"
  sensor = 2
  value = "int"
`, filepath.Join(b.TempDir(), "store"), addr)
	plan, err := Parse("bench.toml", []byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	a, err := New("bench.toml", plan, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	var c net.Conn
	for c == nil {
		c, _ = net.Dial("tcp", addr)
		time.Sleep(time.Millisecond)
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 64<<10)
	var line []byte
	ts := int64(1700000000000000000)
	b.ResetTimer()
	for i := range b.N {
		line = append(line[:0], "env,host=gw1,room=lab temp="...)
		line = strconv.AppendFloat(line, 20+float64(i%100)/10, 'f', 1, 64)
		line = append(line, ",count="...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, "i "...)
		line = strconv.AppendInt(line, ts+int64(i)*1e6, 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	a.mu.Lock()
	cnt := a.countersOf("lp")
	a.mu.Unlock()
	for cnt.records.Load()+cnt.rejected.Load() < uint64(2*b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	el := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/el, "lines/s")
	b.ReportMetric(float64(2*b.N)/el, "records/s")
	if cnt.rejected.Load() > 0 || cnt.malformed.Load() > 0 {
		b.Fatalf("rejected %d malformed %d", cnt.rejected.Load(), cnt.malformed.Load())
	}
}
