#!/usr/bin/env bash
# Cross-compiles mm2 for the ARM gateways (linux/arm GOARM=7 and linux/arm64,
# static, CGO_ENABLED=0) and runs `mm2 selftest --quiet` for every valid
# platform × backend configuration under qemu user-mode emulation (Debian's
# qemu-user-static). Then builds the C archive libmm2.a with cgo and the
# cross compilers (the firmware's own tests run in `go test ./capi`) and
# prints its size. Prints each summary line; exit status non-zero on any
# failure. The disk configuration runs in a temporary directory.
set -uo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail=0
for target in arm:qemu-arm-static arm64:qemu-aarch64-static; do
  arch=${target%%:*}
  qemu=${target#*:}
  if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "arm.sh: $qemu not found (install qemu-user-static)"
    fail=1
    continue
  fi
  bin="$work/mm2-$arch"
  if ! CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=7 go build -o "$bin" ./cmd/mm2; then
    echo "arm.sh: build for linux/$arch failed"
    fail=1
    continue
  fi
  for conf in linux:mock linux:disk wiced:mock stm32:mock; do
    platform=${conf%%:*}
    backend=${conf#*:}
    line=$(TMPDIR="$work" "$qemu" "$bin" selftest --quiet --platform "$platform" --backend "$backend" 2>&1)
    status=$?
    printf 'linux/%-5s %-5s %-4s %s\n' "$arch" "$platform" "$backend" "$line"
    if [ $status -ne 0 ]; then
      echo "arm.sh: linux/$arch $platform/$backend exited with status $status"
      fail=1
    fi
  done
done
for target in arm:arm-linux-gnueabihf-gcc arm64:aarch64-linux-gnu-gcc; do
  arch=${target%%:*}
  cc=${target#*:}
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "arm.sh: $cc not found (scripts/test.sh installs the cross compilers)"
    fail=1
    continue
  fi
  lib="$work/libmm2-$arch.a"
  if CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=7 CC=$cc go build -buildmode=c-archive -o "$lib" ./capi; then
    printf 'linux/%-5s libmm2.a (cgo, %s): %s bytes\n' "$arch" "$cc" "$(wc -c <"$lib")"
  else
    echo "arm.sh: C archive for linux/$arch failed"
    fail=1
  fi
done
exit $fail
