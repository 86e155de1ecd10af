package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/mm2go/mm2/internal/sink"
	"github.com/mm2go/mm2/uplink"
)

// maxDecodeInput bounds what mm2 decode reads (a payload is at most a few
// hundred KB; a hex or base64 file of many payloads stays far below this).
const maxDecodeInput = 256 << 20

func runDecode(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("decode", stderr,
		"usage: mm2 decode [-f raw|hex|base64] [--device NAME] [--values raw|float|int] [FILE]",
		"Writes the records of uplink payloads (docs/uplink.md) from FILE, or stdin when FILE is absent or -,",
		"as JSON lines (fields: docs/json.md):",
		`  {"stream":"can/12","seq":41,"time":"2026-01-02T03:04:05.678Z","value":1130,"kind":"evt"}`,
		"A payload that does not decode is reported on stderr with its number; the others are written.",
		"Reading stdin, it ends at the end of the input (Ctrl-D on a terminal); Ctrl-C ends it at once.",
		"exit status: 0 every payload decoded, 1 a payload was refused or the input could not be read, 2 bad usage")
	format := fs.String("format", "raw", "raw: the input is one binary payload; hex or base64: one payload a line")
	device := fs.String("device", "", "device name to put in front of each stream (device/source/sensor)")
	values := fs.String("values", "raw", "how to write the 32 bits of a value: raw (unsigned), float (float32) or int (int32)")
	if status, ok := parseFlags(fs, args); !ok {
		return status
	}
	vals, err := sink.ParseValues(*values)
	if err != nil || fs.NArg() > 1 || (*format != "raw" && *format != "hex" && *format != "base64") {
		if err == nil {
			err = fmt.Errorf("want --format raw, hex or base64 and at most one FILE")
		}
		fmt.Fprintf(stderr, "mm2 decode: %v\n", err)
		return exitUsage
	}
	var in io.Reader = os.Stdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "mm2 decode: %v\n", err)
			return exitProblem
		}
		defer f.Close()
		in = f
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	status := exitOK
	var buf []byte
	one := func(n int, p []byte) {
		b, err := uplink.Decode(p)
		if err != nil {
			fmt.Fprintf(stderr, "mm2 decode: payload %d: %v\n", n, err)
			status = exitProblem
			return
		}
		sink.Each(*device, &b, vals, func(r *sink.Record, _ int) {
			buf = sink.AppendJSON(buf[:0], r)
			_, _ = out.Write(buf) // a failed write sticks in out and in stdout; dispatch reports it
		})
	}
	if *format == "raw" {
		p, err := io.ReadAll(io.LimitReader(in, maxDecodeInput+1))
		if err == nil && len(p) > maxDecodeInput {
			err = fmt.Errorf("input larger than %d bytes", maxDecodeInput)
		}
		if err != nil {
			fmt.Fprintf(stderr, "mm2 decode: %v\n", err)
			return exitProblem
		}
		one(1, p)
		return status
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		n++
		var p []byte
		var err error
		if *format == "hex" {
			p = make([]byte, hex.DecodedLen(len(line)))
			_, err = hex.Decode(p, line)
		} else {
			p = make([]byte, base64.StdEncoding.DecodedLen(len(line)))
			var k int
			k, err = base64.StdEncoding.Decode(p, line)
			p = p[:k]
		}
		if err != nil {
			fmt.Fprintf(stderr, "mm2 decode: payload %d: not %s: %v\n", n, *format, err)
			status = exitProblem
			continue
		}
		one(n, p)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "mm2 decode: %v\n", err)
		return exitProblem
	}
	return status
}
