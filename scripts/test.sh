#!/usr/bin/env bash
# The one test command: installs what the tests need, then vets and runs
# every test (race detector on), and prints a summary. Exit status non-zero
# on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

say() { printf '==> %s\n' "$*"; }

# apt_need CMD PACKAGE: install PACKAGE when CMD is missing.
apt_updated=
apt_need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing $1 and no apt-get to install $2"; return 1
  fi
  if [ -z "$apt_updated" ]; then
    say "apt-get update"; apt-get update -qq >/dev/null || return 1; apt_updated=1
  fi
  say "installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null || return 1
}

command -v go >/dev/null || { say "Go is required (https://go.dev/dl)"; exit 1; }
apt_need gcc gcc || exit 1                       # the C archive's test program
apt_need mosquitto mosquitto || exit 1           # a real MQTT broker for the uplink tests
apt_need qemu-arm-static qemu-user-static || exit 1 # ARM self-test runs
# The C archive's tests (go test ./capi): the test firmware is built for
# armhf and arm64 with Debian's cross compilers (run under qemu) and with
# musl, and as a CMake project (pkg-config and the in-tree snippet).
for need in arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
            musl-gcc:musl-tools cmake:cmake make:make pkg-config:pkg-config; do
  apt_need "${need%%:*}" "${need#*:}" || exit 1
done
# gpsd fed by gpsfake for the gpsd input's test (it falls back to a scripted server).
{ apt_need gpsd gpsd && apt_need gpsfake gpsd-clients; } || say "no gpsd/gpsfake: TestGPSDWithGpsfake skips"

say "go mod download"
go mod download || exit 1

fail=0
say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; fail=1; fi

say "go vet ./..."
go vet ./... || fail=1

say "go test -race ./..."
# Every package under the race detector. The root package's randomized state
# machines and crash-point enumeration run smaller sequences there (-short:
# the detector slows them tenfold) ...
go test -race -count=1 -v $(go list ./... | grep -vx 'github.com/mm2go/mm2') >"$log_dir/test.log" 2>&1
test_status=$?
# TestCrashAtEveryMutation runs only without the detector: its simulated
# power cut copies the journal's mapped memory at an instant chosen by a
# filesystem call of the checkpoint's goroutine, while a writer stores into
# it (a power cut does not wait for stores to finish).
go test -race -short -count=1 -v -skip 'CrashAtEveryMutation' . >>"$log_dir/test.log" 2>&1 || test_status=1
# ... and at full size without it.
say "go test (full-size randomized and crash tests) ."
go test -count=1 -v -run 'StateMachine|CrashAtEveryMutation|ProcessCrash|Kill9|GroupCommit|PowerCuts' . >>"$log_dir/test.log" 2>&1 || test_status=1
grep -E '^(ok|FAIL|---|panic:|\?)' "$log_dir/test.log" | grep -vE '^    ---' | grep -vE '^--- PASS' || true
if [ $test_status -ne 0 ]; then
  say "failures"
  # The assertion lines of failing tests (without randomized-test draw logs),
  # then any panic with its stack.
  grep -E '^\s+[A-Za-z0-9_]+_test\.go:[0-9]+: ' "$log_dir/test.log" | grep -v '\[rapid\] draw' | grep -iE 'fail|error|want|got|expected|violation|lost|mismatch|panic|unexpected|not ' | head -80
  grep -A40 -E '^panic:' "$log_dir/test.log" | head -120
  fail=1
fi

# golangci-lint at a pinned version (configuration: .golangci.yml), built
# once into GOBIN and reused; the bench module is linted with the same file.
golangci_version=v2.15.0
say "golangci-lint $golangci_version"
gobin=$(go env GOBIN); gobin=${gobin:-$(go env GOPATH)/bin}
if ! "$gobin/golangci-lint" version 2>/dev/null | grep -q "version ${golangci_version#v} "; then
  GOBIN="$gobin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$golangci_version" || fail=1
fi
if [ -x "$gobin/golangci-lint" ]; then
  "$gobin/golangci-lint" run ./... || fail=1
  if [ -f bench/go.mod ]; then (cd bench && "$gobin/golangci-lint" run -c ../.golangci.yml ./...) || fail=1; fi
fi

if [ -x scripts/arm.sh ]; then
  say "ARM cross-builds under qemu"
  ./scripts/arm.sh || fail=1
fi

if [ -f bench/go.mod ]; then
  say "bench module: vet and test"
  (cd bench && go vet ./... && go test -count=1 ./...) >"$log_dir/bench.log" 2>&1 || { cat "$log_dir/bench.log"; fail=1; }
  grep -E '^(ok|FAIL)' "$log_dir/bench.log" || true
  cat "$log_dir/bench.log" >>"$log_dir/test.log"
fi

passed=$(grep -cE '^\s*--- PASS' "$log_dir/test.log")
failed=$(grep -cE '^\s*--- FAIL' "$log_dir/test.log")
echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || fail=1
exit $fail
