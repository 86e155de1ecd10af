package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/uplink"
)

func TestDecodeWritesJSONLines(t *testing.T) {
	b := &uplink.Batch{Source: mm2.Hosted, ID: 3, Runs: []uplink.Run{
		{Sensor: 1, Kind: mm2.EVT, Samples: []mm2.Sample{{Value: 0x41a80000, UTCms: 1700000000000, Seq: 5}, {Value: 0x41b00000, UTCms: 1700000000100, Seq: 6}}},
	}}
	p, err := uplink.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "p.bin")
	writeTestFile(t, raw, string(p))
	hexFile := filepath.Join(dir, "p.hex")
	writeTestFile(t, hexFile, hex.EncodeToString(p)+"\nzz\n"+hex.EncodeToString(p[:len(p)-1])+"\n")

	var out, errb bytes.Buffer
	if code := dispatch([]string{"decode", "--values", "float", "--device", "gw", raw}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `{"stream":"gw/hosted/1","seq":5,"time":"2023-11-14T22:13:20.000Z","value":21,"kind":"evt"}
{"stream":"gw/hosted/1","seq":6,"time":"2023-11-14T22:13:20.100Z","value":22,"kind":"evt"}
`
	if out.String() != want {
		t.Errorf("got\n%swant\n%s", out.String(), want)
	}
	out.Reset()
	errb.Reset()
	// Hex, one payload a line: the good one is written, the two bad ones
	// are reported and make the exit status 1.
	if code := dispatch([]string{"decode", "--format", "hex", hexFile}, &out, &errb); code != exitProblem {
		t.Errorf("exit %d, want %d", code, exitProblem)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 || !strings.Contains(out.String(), `"value":1101529088`) {
		t.Errorf("output %q", out.String())
	}
	if !strings.Contains(errb.String(), "payload 2: not hex") || !strings.Contains(errb.String(), "payload 3: uplink: bad payload") {
		t.Errorf("errors %q", errb.String())
	}
	if code := dispatch([]string{"decode", "--format", "yaml"}, &out, &errb); code != exitUsage {
		t.Errorf("bad format: exit %d", code)
	}
}

func TestRunCheckRefusesWithLineAndReason(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.toml")
	writeTestFile(t, p, "[store]\n\noverflow = \"sometimes\"\n")
	var out, errb bytes.Buffer
	if code := dispatch([]string{"run", "--config", p, "--check"}, &out, &errb); code != exitUsage {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "bad.toml:3: store.overflow: \"sometimes\": want drop-oldest or reject-new") {
		t.Errorf("stderr %q", errb.String())
	}
	if code := dispatch([]string{"run"}, &out, &errb); code != exitUsage {
		t.Errorf("no --config: exit %d", code)
	}
}
