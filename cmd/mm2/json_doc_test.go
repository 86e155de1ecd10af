package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/sink"
	"github.com/mm2go/mm2/uplink"
)

// jsonSchema is one section of docs/json.md: documented path → type.
type jsonSchema map[string]string

var (
	sectionRE = regexp.MustCompile("^## `mm2 (\\w+)(?: (--report))?")
	rowRE     = regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\|")
	keyRE     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// readJSONDoc parses the field tables of docs/json.md per command: key
// "status" for mm2 status --json, "sink --report" for the report file.
func readJSONDoc(t *testing.T) map[string]jsonSchema {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	docs := map[string]jsonSchema{}
	var cur jsonSchema
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			cur = jsonSchema{}
			key := m[1]
			if m[2] != "" {
				key += " " + m[2]
			}
			docs[key] = cur
			continue
		}
		if m := rowRE.FindStringSubmatch(line); m != nil && cur != nil {
			cur[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return docs
}

// checkJSONAgainstDoc checks one JSON value against its schema: every key
// snake_case, every path documented with the type it has, null only where
// the type allows it, and every documented path present (unless optional,
// or under an array or map that is empty here). seen collects the paths
// met, across several values of the same schema.
func checkJSONAgainstDoc(t *testing.T, what string, raw []byte, schema jsonSchema, seen map[string]bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, raw)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		typ, documented := schema[path]
		if _, isObject := v.(map[string]any); isObject && !documented && strings.HasSuffix(path, "[]") {
			typ, documented = "object", true // an array of objects: its fields are documented
		}
		if path != "" {
			seen[path] = true
			if !documented {
				t.Errorf("%s: field %s is not in docs/json.md", what, path)
				return
			}
		}
		kind := strings.TrimSuffix(typ, " (optional)")
		switch x := v.(type) {
		case nil:
			if !strings.HasSuffix(kind, " or null") {
				t.Errorf("%s: %s is null; docs/json.md says %s", what, path, typ)
			}
		case bool:
			if kind != "boolean" {
				t.Errorf("%s: %s is a boolean; docs/json.md says %s", what, path, typ)
			}
		case string:
			if kind != "string" {
				t.Errorf("%s: %s is a string; docs/json.md says %s", what, path, typ)
			}
		case json.Number:
			base := strings.TrimSuffix(kind, " or null")
			isInt := !strings.ContainsAny(x.String(), ".eE")
			if base != "number" && (base != "integer" || !isInt) {
				t.Errorf("%s: %s is the number %s; docs/json.md says %s", what, path, x, typ)
			}
		case []any:
			if kind != "array" {
				t.Errorf("%s: %s is an array; docs/json.md says %s", what, path, typ)
			}
			for _, e := range x {
				walk(path+"[]", e)
			}
		case map[string]any:
			if kind == "map" {
				for _, e := range x {
					walk(path+".*", e)
				}
				return
			}
			if path != "" && kind != "object" {
				t.Errorf("%s: %s is an object; docs/json.md says %s", what, path, typ)
			}
			for k, e := range x {
				if !keyRE.MatchString(k) {
					t.Errorf("%s: key %q under %q is not snake_case", what, k, path)
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, e)
			}
		}
	}
	walk("", v)
}

// missingFromOutput lists documented paths never seen: allowed only for
// optional fields and for fields under an empty array or map.
func missingFromOutput(t *testing.T, what string, schema jsonSchema, seen map[string]bool) {
	t.Helper()
	for path, typ := range schema {
		if seen[path] || strings.HasSuffix(typ, "(optional)") {
			continue
		}
		if underEmpty(path, seen) {
			continue
		}
		t.Errorf("%s: docs/json.md documents %s (%s) but the output has no such field", what, path, typ)
	}
}

// underEmpty: some array or map on path was present but empty.
func underEmpty(path string, seen map[string]bool) bool {
	for i := range path {
		switch {
		case strings.HasPrefix(path[i:], "[]"):
			if p := path[:i]; seen[p] && !seen[p+"[]"] {
				return true
			}
		case strings.HasPrefix(path[i:], ".*"):
			if p := path[:i]; seen[p] && !seen[p+".*"] {
				return true
			}
		}
	}
	return false
}

// Every --json output matches docs/json.md, field by field.
func TestJSONOutputsMatchTheirDocumentation(t *testing.T) {
	docs := readJSONDoc(t)
	for _, cmd := range []string{"status", "fsck", "dump", "stress", "simulate"} {
		if len(docs[cmd]) == 0 {
			t.Fatalf("docs/json.md has no field table for mm2 %s", cmd)
		}
	}
	check := func(cmd string, outputs ...[]byte) {
		t.Helper()
		seen := map[string]bool{}
		for i, out := range outputs {
			checkJSONAgainstDoc(t, cmd+" output "+string(rune('1'+i)), out, docs[cmd], seen)
		}
		missingFromOutput(t, cmd, docs[cmd], seen)
	}
	mustRun := func(want int, args ...string) []byte {
		t.Helper()
		out, errOut, code := run(t, args...)
		if code != want {
			t.Fatalf("mm2 %v: exit %d, want %d\n%s", args, code, want, errOut)
		}
		return []byte(out)
	}

	// A store with data, and a damaged copy of it.
	ts := writeStore(t, t.TempDir())
	damaged := t.TempDir()
	copyDir(t, ts.dir, damaged)
	seg := filepath.Join(damaged, "seg-0000000000000001.mm2")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	start, _, _, _, last := frameAt(t, b, len(b)/2)
	if last {
		start, _, _, _, _ = frameAt(t, b, start-1)
	}
	b[start+48+2] ^= 0x55
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}

	check("status", mustRun(0, "status", "--dir", ts.dir, "--json"), mustRun(0, "status", "--dir", damaged, "--json"))
	repaired := t.TempDir()
	copyDir(t, damaged, repaired)
	check("fsck", mustRun(0, "fsck", "--dir", ts.dir, "--json"), mustRun(1, "fsck", "--dir", damaged, "--json"),
		mustRun(0, "fsck", "--dir", repaired, "--repair", "--json"))
	check("dump", bytes.Split(bytes.TrimSpace(mustRun(0, "dump", "--dir", ts.dir)), []byte("\n"))...)
	check("stress", mustRun(0, "stress", "--ops", "400", "--json", "--quiet"),
		mustRun(0, "stress", "--ops", "400", "--backend", "disk", "--crash-every", "100", "--json", "--quiet"))

	var out, errOut syncBuffer
	dir := filepath.Join(t.TempDir(), "store")
	if code := simulate(context.Background(), []string{"--dir", dir, "--hours", "0.02", "--can-signals", "10",
		"--outage-len", "20s", "--parked", "30s", "--quiet", "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("simulate: exit %d\n%s", code, errOut.String())
	}
	check("simulate", []byte(out.String()))
}

// The JSON lines of mm2 decode and mm2 sink, and the sink's --report file,
// match docs/json.md.
func TestServiceJSONOutputsMatchTheirDocumentation(t *testing.T) {
	docs := readJSONDoc(t)
	for _, key := range []string{"decode", "sink", "sink --report"} {
		if len(docs[key]) == 0 {
			t.Fatalf("docs/json.md has no field table for mm2 %s", key)
		}
	}
	lines := func(b []byte) [][]byte { return bytes.Split(bytes.TrimSpace(b), []byte("\n")) }
	check := func(key string, outputs [][]byte) {
		t.Helper()
		seen := map[string]bool{}
		for i, out := range outputs {
			checkJSONAgainstDoc(t, key+" output "+strconv.Itoa(i+1), out, docs[key], seen)
		}
		missingFromOutput(t, key, docs[key], seen)
	}
	encode := func(src mm2.Source, id uint64, runs ...uplink.Run) []byte {
		t.Helper()
		p, err := uplink.Encode(nil, &uplink.Batch{Source: src, ID: id, Runs: runs})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	nan := math.Float32bits(float32(math.NaN()))
	first := encode(mm2.CAN, 1,
		uplink.Run{Sensor: 12, Kind: mm2.EVT, Samples: []mm2.Sample{{Value: 0x41a80000, UTCms: 1700000000000, Seq: 1}, {Value: nan, UTCms: 1700000000100, Seq: 2}}},
		uplink.Run{Sensor: 13, Kind: mm2.TSD, Samples: []mm2.Sample{{Value: 7, UTCms: 1700000000000, Seq: 1}}})
	// Seq 4 of can/12 after 2: one missing; seq 2 again: a duplicate.
	second := encode(mm2.CAN, 2,
		uplink.Run{Sensor: 12, Kind: mm2.EVT, Samples: []mm2.Sample{{Value: 0x41b00000, UTCms: 1700000000200, Seq: 2}}})
	third := encode(mm2.CAN, 3,
		uplink.Run{Sensor: 12, Kind: mm2.EVT, Samples: []mm2.Sample{{Value: 0x41b00000, UTCms: 1700000000300, Seq: 4}}})

	raw := filepath.Join(t.TempDir(), "p.bin")
	if err := os.WriteFile(raw, first, 0o600); err != nil {
		t.Fatal(err)
	}
	var decoded [][]byte
	for _, args := range [][]string{{"decode", "--values", "float", raw}, {"decode", "--device", "gw", "--values", "int", raw}} {
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("mm2 %v: exit %d\n%s", args, code, errOut)
		}
		decoded = append(decoded, lines([]byte(out))...)
	}
	if !bytes.Contains(bytes.Join(decoded, nil), []byte(`"value":null`)) {
		t.Fatalf("no null value in the decoded lines (the NaN record):\n%s", bytes.Join(decoded, []byte("\n")))
	}
	check("decode", decoded)

	var out bytes.Buffer
	s := sink.New(sink.Options{Out: &out, Values: sink.Float})
	if got := reportJSON(s.Report()); string(got) != "[]\n" {
		t.Errorf("report of a sink that saw nothing: %q, want []", got)
	}
	s.Handle("mm2/gw1/can", first)
	s.Handle("mm2/gw1/can", second)
	s.Handle("mm2/gw1/can", third)
	check("sink", lines(out.Bytes()))
	var elems []json.RawMessage
	rep := reportJSON(s.Report())
	if err := json.Unmarshal(rep, &elems); err != nil || len(elems) != 2 {
		t.Fatalf("report: %v, %d elements\n%s", err, len(elems), rep)
	}
	elemBytes := make([][]byte, len(elems))
	for i, e := range elems {
		elemBytes[i] = e
	}
	check("sink --report", elemBytes)
	if !bytes.Contains(rep, []byte(`"missing": 1`)) {
		t.Errorf("the report does not count the missing seq 3 of gw1/can/12:\n%s", rep)
	}
}
