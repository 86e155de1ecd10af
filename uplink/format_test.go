package uplink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mm2go/mm2"
)

func randomSamples(rng *rand.Rand, n int) []mm2.Sample {
	out := make([]mm2.Sample, n)
	seq := 1 + rng.Uint64N(1<<40)
	t := rng.Int64N(1<<42) - 1<<20
	v := rng.Uint32()
	for i := range out {
		switch rng.IntN(4) {
		case 0:
			v = rng.Uint32()
		case 1:
			v += uint32(rng.IntN(3))
		}
		switch rng.IntN(5) {
		case 0:
			t = rng.Int64()
		case 1:
			t -= rng.Int64N(1000)
		default:
			t += 100
		}
		out[i] = mm2.Sample{Value: v, UTCms: t, Seq: seq + uint64(i)}
	}
	return out
}

func randomBatch(rng *rand.Rand) Batch {
	b := Batch{Source: mm2.Source(rng.IntN(mm2.MaxSources)), ID: rng.Uint64N(1 << uint(rng.IntN(64)))}
	for range 1 + rng.IntN(5) {
		kind := mm2.TSD
		if rng.IntN(2) == 0 {
			kind = mm2.EVT
		}
		b.Runs = append(b.Runs, Run{Sensor: rng.Uint32(), Kind: kind, Samples: randomSamples(rng, 1+rng.IntN(40))})
	}
	return b
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		b := randomBatch(rng)
		p, err := Encode(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != EncodedSize(&b) {
			t.Fatalf("batch %d: EncodedSize %d, Encode wrote %d", i, EncodedSize(&b), len(p))
		}
		d, err := Decode(p)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if !reflect.DeepEqual(d, b) {
			t.Fatalf("batch %d: decoded\n%+v\nwant\n%+v", i, d, b)
		}
	}
}

func TestEncodeExtremeValues(t *testing.T) {
	b := Batch{Source: mm2.Source(mm2.MaxSources - 1), ID: math.MaxUint64, Runs: []Run{{
		Sensor: math.MaxUint32, Kind: mm2.EVT, Samples: []mm2.Sample{
			{Value: math.MaxUint32, UTCms: math.MinInt64, Seq: math.MaxUint64 - 2},
			{Value: 0, UTCms: math.MaxInt64, Seq: math.MaxUint64 - 1},
			{Value: 1, UTCms: 0, Seq: math.MaxUint64},
		}}}}
	p, err := Encode(nil, &b)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, b) {
		t.Fatalf("decoded %+v, want %+v", d, b)
	}
}

// TestWorkedExampleDecodes reads the worked example's bytes from
// docs/uplink.md, decodes them (CRC included) into the batch the page
// describes, and encodes that batch back to the same bytes.
func TestWorkedExampleDecodes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "uplink.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i := strings.Index(text, "Worked example")
	if i < 0 {
		t.Fatal("docs/uplink.md has no worked example")
	}
	open := strings.Index(text[i:], "```\n")
	if open < 0 {
		t.Fatal("no code block after the worked example")
	}
	block := text[i+open+4:]
	block = block[:strings.Index(block, "```")]
	// Each line: hex bytes, then two spaces and the explanation.
	var payload []byte
	for _, line := range strings.Split(block, "\n") {
		for _, tok := range strings.Fields(line) {
			if len(tok) != 2 {
				break
			}
			v, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				break
			}
			payload = append(payload, byte(v))
		}
	}
	const t0 = 1767225600000 // 2026-01-01T00:00:00Z
	want := Batch{Source: mm2.CAN, ID: 5, Runs: []Run{
		{Sensor: 300, Kind: mm2.TSD, Samples: []mm2.Sample{
			{Value: 20, UTCms: t0, Seq: 7},
			{Value: 21, UTCms: t0 + 100, Seq: 8},
			{Value: 21, UTCms: t0 + 200, Seq: 9},
		}},
		{Sensor: 12, Kind: mm2.EVT, Samples: []mm2.Sample{
			{Value: math.Float32bits(12.5), UTCms: t0 + 350, Seq: 41},
			{Value: math.Float32bits(-0.75), UTCms: t0 + 1350, Seq: 42},
		}},
	}}
	got, err := Decode(payload)
	if err != nil {
		t.Fatalf("Decode of the documented bytes (% x): %v", payload, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode = %+v\nwant %+v", got, want)
	}
	if math.Float32frombits(got.Runs[1].Samples[1].Value) != -0.75 {
		t.Error("the EVT run's second value is not -0.75 as a float")
	}
	enc, err := Encode(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, payload) {
		t.Fatalf("Encode of the example\n% x\ndocumented\n% x", enc, payload)
	}
	if crc := fmt.Sprintf("CRC-32C 0x%08x of the %d bytes above", binary.LittleEndian.Uint32(payload[len(payload)-4:]), len(payload)-4); !strings.Contains(block, crc) {
		t.Errorf("the example's CRC line should say %q", crc)
	}
}

func TestEncodeRefusesWhatDecodeWould(t *testing.T) {
	s := []mm2.Sample{{Seq: 1}, {Seq: 3}}
	for name, b := range map[string]Batch{
		"bad source": {Source: mm2.MaxSources, Runs: []Run{{Kind: mm2.TSD, Samples: s[:1]}}},
		"empty run":  {Runs: []Run{{Kind: mm2.TSD}}},
		"bad kind":   {Runs: []Run{{Kind: 9, Samples: s[:1]}}},
		"seq gap":    {Runs: []Run{{Kind: mm2.EVT, Samples: s}}},
		"seq zero":   {Runs: []Run{{Kind: mm2.EVT, Samples: []mm2.Sample{{Seq: 0}}}}},
	} {
		if p, err := Encode([]byte{9}, &b); err == nil || !bytes.Equal(p, []byte{9}) {
			t.Errorf("%s: Encode = %x, %v; want an error and dst unchanged", name, p, err)
		}
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	b := randomBatch(rng)
	good, err := Encode(nil, &b)
	if err != nil {
		t.Fatal(err)
	}
	for name, corrupt := range map[string]func([]byte) []byte{
		"empty":         func(p []byte) []byte { return nil },
		"truncated":     func(p []byte) []byte { return p[:len(p)-1] },
		"header only":   func(p []byte) []byte { return p[:6] },
		"bad magic":     func(p []byte) []byte { p[0] = 'X'; return p },
		"new version":   func(p []byte) []byte { p[2] = Version + 1; return p },
		"flipped bit":   func(p []byte) []byte { p[len(p)/2] ^= 0x10; return p },
		"bad crc":       func(p []byte) []byte { p[len(p)-1] ^= 1; return p },
		"trailing byte": func(p []byte) []byte { return append(p, 0) },
	} {
		p := corrupt(append([]byte(nil), good...))
		if _, err := Decode(p); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Decode: %v, want ErrFormat", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(8, 9))
	for range 4 {
		b := randomBatch(rng)
		p, _ := Encode(nil, &b)
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := Decode(p)
		if err != nil {
			return
		}
		q, err := Encode(nil, &b)
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		if !bytes.Equal(p, q) {
			t.Fatalf("re-encoding differs:\n% x\n% x", p, q)
		}
	})
}
