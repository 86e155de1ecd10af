package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Every command prints its help on stdout and exits 0, however asked.
func TestHelpOnStdoutEverywhere(t *testing.T) {
	for name := range commands {
		want, errOut, code := run(t, "help", name)
		if code != 0 || errOut != "" || !strings.HasPrefix(want, "usage: mm2 "+name) || !strings.Contains(want, "exit status") {
			t.Errorf("mm2 help %s: exit %d, stderr %q, stdout:\n%s", name, code, errOut, want)
			continue
		}
		for _, h := range []string{"--help", "-h", "-help"} {
			out, errOut, code := run(t, name, h)
			if code != 0 || errOut != "" || out != want {
				t.Errorf("mm2 %s %s: exit %d, stderr %q, stdout differs from mm2 help %s:\n%s", name, h, code, errOut, name, out)
			}
		}
		// Help after other flags still wins, and runs nothing.
		if out, _, code := run(t, name, "--dir", t.TempDir(), "--help"); code != 0 || out != want {
			t.Errorf("mm2 %s --dir D --help: exit %d", name, code)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, errOut, code := run(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "usage: mm2 <command>") {
			t.Errorf("mm2 %v: exit %d, stderr %q", args, code, errOut)
		}
		for name := range commands {
			if !strings.Contains(out, "  "+name+" ") {
				t.Errorf("mm2 %v does not list %s", args, name)
			}
		}
	}
	if _, errOut, code := run(t, "help", "nope"); code != 2 || !strings.Contains(errOut, `unknown command "nope"`) {
		t.Errorf("mm2 help nope: exit %d, stderr %q", code, errOut)
	}
	if out, errOut, code := run(t); code != 2 || out != "" || !strings.Contains(errOut, "usage: mm2") {
		t.Errorf("mm2 without a command: exit %d, stdout %q", code, out)
	}
}

var versionRE = regexp.MustCompile(`^mm2 \S+ \((revision [0-9a-f]+|unknown revision)(, modified)?(, [0-9TZ:-]+)?, go[0-9.a-z]+\)\n$`)

func TestVersion(t *testing.T) {
	for _, flag := range []string{"--version", "-version", "version"} {
		out, errOut, code := run(t, flag)
		if code != 0 || errOut != "" || !versionRE.MatchString(out) {
			t.Errorf("mm2 %s: exit %d, stdout %q, stderr %q", flag, code, out, errOut)
		}
	}
}

// The short flags are the long ones: the same run, the same figures.
func TestShortFlags(t *testing.T) {
	long, _, code := run(t, "stress", "--ops", "300", "--seed", "5", "--platform", "wiced", "--backend", "mock", "--quiet", "--json")
	if code != 0 {
		t.Fatalf("long flags: exit %d", code)
	}
	short, _, code := run(t, "stress", "-n", "300", "-s", "5", "-p", "wiced", "-b", "mock", "-q", "-j")
	if code != 0 {
		t.Fatalf("short flags: exit %d", code)
	}
	var a, b stressJSON
	if err := json.Unmarshal([]byte(long), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(short), &b); err != nil {
		t.Fatal(err)
	}
	a.OpsPerSec, a.ElapsedSec, b.OpsPerSec, b.ElapsedSec = 0, 0, 0, 0
	if a.Ops != 300 || a.Seed != 5 || a.PerPlatform["wiced"] != 300 || a.Writes != b.Writes || a.Ops != b.Ops || a.Seed != b.Seed || a.Drops != b.Drops {
		t.Errorf("long %+v\nshort %+v", a, b)
	}
	out, _, code := run(t, "selftest", "-p", "stm32", "-t", "1,2", "-q")
	if code != 0 || !strings.HasPrefix(out, "Tests: 2/2 PASS - Platform: STM32") {
		t.Errorf("selftest -p stm32 -t 1,2 -q: exit %d\n%s", code, out)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// Output that cannot be written is a failure, not a silent success.
func TestOutputWriteFailureExits1(t *testing.T) {
	var errOut bytes.Buffer
	if code := dispatch([]string{"--help"}, failingWriter{}, &errOut); code != 1 || !strings.Contains(errOut.String(), "broken pipe") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// mm2Binary builds the command once for the tests that signal a process.
func mm2Binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "mm2-cli-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "mm2")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

// interrupt starts mm2 with args and TMPDIR=tmp, waits until ready says the
// run is under way (it sees stderr so far), sends SIGINT and returns the
// exit status and the output.
func interrupt(t *testing.T, tmp string, ready func(stderr string) bool, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(mm2Binary(t), args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var out bytes.Buffer
	var errOut syncBuffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&errOut, pipe)
		close(copied)
	}()
	waitFor(t, "the run to start", 60*time.Second, func() bool { return ready(errOut.String()) })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { <-copied; exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
	case <-time.After(120 * time.Second):
		t.Fatalf("no exit after SIGINT\nstderr: %s", errOut.String())
	}
	return 0, "", ""
}

// Ctrl-C in selftest: the summary of what ran, the rest skipped as
// interrupted, exit 3, and the disk backend's temporary directory removed.
func TestSelftestInterruptSummarisesAndCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	started := func(stderr string) bool { return strings.Contains(stderr, "%") } // the progress bar
	code, out, errOut := interrupt(t, tmp, started, "selftest", "-b", "disk", "-t", "12,13", "-n", "500000000", "-v")
	if code != exitSkipped || !strings.Contains(out, "(interrupted)") || !strings.Contains(out, "skipped: interrupted") ||
		!regexp.MustCompile(`(?m)^Tests: 0/2 SKIP - Platform: LINUX - Backend: DISK \(2 skipped: interrupted`).MatchString(out) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left behind in the temporary directory: %v", entries)
	}
}

// Ctrl-C in configurations: the table so far, the summary, exit 3.
func TestConfigurationsInterruptSummarises(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	begun := time.Now()
	started := func(string) bool { return time.Since(begun) > time.Second }
	code, out, errOut := interrupt(t, tmp, started, "configurations", "-t", "12", "-n", "500000000")
	if code != exitSkipped || !strings.Contains(out, "PLATFORM") || !strings.Contains(out, "interrupted") ||
		!regexp.MustCompile(`(?m)^Configurations: \d+/\d+ \w+ \(interrupted\)$`).MatchString(out) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left behind in the temporary directory: %v", entries)
	}
}
