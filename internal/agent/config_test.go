package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2go/mm2/internal/testbroker"
)

func TestInvalidConfigsAreRefusedWithLineAndReason(t *testing.T) {
	dbc, _ := filepath.Abs("../inputs/testdata/vehicle.dbc")
	cases := []struct {
		name, doc string
		line      int
		key, msg  string
	}{
		{"syntax", "[store]\ndir = \"x\n", 2, "", "strings cannot contain newlines"},
		{"unknown key", "[store]\ndir = \"\"\ndirr = \"x\"\n", 3, "store.dirr", "unknown key"},
		{"unknown table", "[stor]\ndir = \"x\"\n", 1, "stor", "unknown key"},
		{"type", "[store]\n\nspill_percent = \"high\"\n", 3, "store.spill_percent", "incompatible types"},
		{"sync", "shutdown_timeout = \"5s\"\n[store]\nsync = \"sometimes\"\n", 3, "store.sync", "want power-down, always"},
		{"overflow", "[store]\noverflow = \"drop-newest\"\n", 2, "store.overflow", "drop-oldest or reject-new"},
		{"spill", "[store]\nspill_percent = 120\n", 2, "store.spill_percent", "spill percent"},
		{"disk tier", "[store]\nprofile = \"wiced\"\ndir = \"/tmp/x\"\n", 3, "store.dir", "no disk tier"},
		{"profile", "[store]\nprofile = \"pdp11\"\n", 2, "store.profile", ""},
		{"shutdown", "shutdown_timeout = \"soon\"\n", 1, "shutdown_timeout", "positive duration"},
		{"no broker", "[uplink]\ndevice = \"gw\"\n", 1, "uplink.broker", "needs a broker"},
		{"device", "[uplink]\nbroker = \"tcp://h:1883\"\ndevice = \"a/b\"\n", 3, "uplink.device", "without /"},
		{"tls on tcp", "[uplink]\nbroker = \"tcp://h:1883\"\ndevice = \"gw\"\nca_file = \"ca.pem\"\n", 2, "uplink.broker", "not a TLS scheme"},
		{"ca missing", "[uplink]\nbroker = \"ssl://h:8883\"\ndevice = \"gw\"\nca_file = \"/nonexistent/ca.pem\"\n", 4, "uplink.ca_file", "CA file"},
		{"cert without key", "[uplink]\nbroker = \"ssl://h:8883\"\ndevice = \"gw\"\ncert_file = \"c.pem\"\n", 4, "uplink.cert_file", "both cert_file and key_file"},
		{"max_bytes", "[uplink]\nbroker = \"tcp://h:1\"\ndevice = \"gw\"\nmax_bytes = 10\n", 4, "uplink.max_bytes", "below the minimum"},
		{"password without user", "[uplink]\nbroker = \"tcp://h:1\"\ndevice = \"gw\"\npassword = \"x\"\n", 1, "uplink.username", "needs a username"},
		{"second can input", "[[inputs.can]]\ndbc = \"" + dbc + "\"\ninterface = \"can0\"\n\n[[inputs.can]]\nreplay = \"x.log\"\n", 5, "inputs.can[1].dbc", "needs a DBC"},
		{"can kind", "[[inputs.can]]\ndbc = \"" + dbc + "\"\ninterface = \"can0\"\nkind = \"tsd\"\n", 1, "inputs.can[0].period", "TSD stream needs a period"},
		{"map kind", `[[inputs.line_protocol]]
listen = "udp://:8094"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "a"
  sensor = 1
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "b"
  sensor = 2
  kind = "sometimes"
`, 11, "inputs.line_protocol[0].map[1].kind", "want \"evt\" or \"tsd\""},
		{"same stream twice", `[[inputs.line_protocol]]
listen = "udp://:8094"
source = "can"
  [[inputs.line_protocol.map]]
  measurement = "m"
  field = "a"
  sensor = 1
[[inputs.can]]
dbc = "` + dbc + `"
interface = "can0"
`, 1, "inputs.line_protocol[0]", "which inputs.can[0] writes too"},
		{"gpsd sensors", "[[inputs.gpsd]]\naddress = \"127.0.0.1:2947\"\n", 1, "inputs.gpsd[0].latitude", "at least one"},
		{"host interval", "[[inputs.host]]\ninterval = \"never\"\n", 2, "inputs.host[0].interval", "positive duration"},
		{"same name", "[[inputs.host]]\ninterval = \"1s\"\n[[inputs.host]]\nsensor_base = 10\n", 3, "inputs.host[1].name", "give each input its own name"},
		{"unknown input key", "[[inputs.host]]\ninterval = \"1s\"\n[[inputs.host]]\nsensor_base = 10\ncolour = \"red\"\n", 5, "inputs.host.colour", "unknown key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("gw.toml", []byte(c.doc))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConfigError", err)
			}
			if ce.Line != c.line || (c.key != "" && ce.Key != c.key) || !strings.Contains(ce.Msg, c.msg) {
				t.Errorf("got line %d key %q msg %q; want line %d key %q msg containing %q", ce.Line, ce.Key, ce.Msg, c.line, c.key, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "gw.toml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

// The examples shipped in examples/ are valid (the DBC path pointed at the
// test's copy).
func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.toml")
	if len(files) < 2 {
		t.Fatalf("examples: %v", files)
	}
	dbc, _ := filepath.Abs("../inputs/testdata/vehicle.dbc")
	certs := t.TempDir()
	testbroker.MakeCerts(t, certs)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc := strings.ReplaceAll(string(b), "/etc/mm2/vehicle.dbc", dbc)
		doc = strings.ReplaceAll(doc, "/etc/mm2/tls/", certs+"/")
		p, err := Parse(f, []byte(doc))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(p.Inputs) == 0 {
			t.Errorf("%s: no inputs", f)
		}
	}
}

func TestKeyLines(t *testing.T) {
	doc := `# comment
a = 1
s = """
x = 2
"""
arr = [
  1,
  2,
]
[t]
"quoted key" = 3
[[x.y]]
k = 1
[[x.y]]
k = 2
  [[x.y.z]]
  m = 1
[x.y.w]
n = 1
`
	l := keyLines([]byte(doc))
	for k, want := range map[string]int{"a": 2, "s": 3, "arr": 6, "t.quoted key": 11, "x.y[0].k": 13, "x.y[1].k": 15,
		"x.y[1].z[0].m": 17, "x.y[1].w.n": 19} {
		if l[k] != want {
			t.Errorf("%s: line %d, want %d (all: %v)", k, l[k], want, l)
		}
	}
	if _, ok := l["x"]; ok {
		t.Errorf("a key inside a multi-line string was taken for one: %v", l)
	}
}
