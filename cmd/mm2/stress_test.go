package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestStressDiskLeavesAStoreTheToolsRead: `stress --backend disk --dir D`
// crashes and reopens its store along the way and leaves it in D, where
// status, fsck and dump read it.
func TestStressDiskLeavesAStoreTheToolsRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	var out, errb bytes.Buffer
	if code := dispatch([]string{"stress", "--backend", "disk", "--ops", "6000", "--crash-every", "1000",
		"--dir", dir, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("stress exit %d: %s %s", code, out.String(), errb.String())
	}
	var res struct {
		Ops, Violations, Crashes int
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("stress --json: %v\n%s", err, out.String())
	}
	if res.Ops != 6000 || res.Violations != 0 || res.Crashes == 0 {
		t.Fatalf("stress: %+v", res)
	}
	out.Reset()
	if code := dispatch([]string{"fsck", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("fsck exit %d on the stress store: %s", code, out.String())
	}
	out.Reset()
	if code := dispatch([]string{"status", "--dir", dir, "--json"}, &out, &errb); code != 0 || !json.Valid(out.Bytes()) {
		t.Fatalf("status exit %d: %s", code, out.String())
	}
	out.Reset()
	if code := dispatch([]string{"dump", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("dump exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" && !json.Valid([]byte(line)) {
			t.Fatalf("dump line is not JSON: %q", line)
		}
	}
}
