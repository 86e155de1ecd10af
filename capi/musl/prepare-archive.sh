#!/bin/sh
# prepare-archive.sh LIBMM2_A [OBJCOPY]
#
# Prepares libmm2.a for a musl firmware (the shipped toolchain). musl runs
# the constructors of .init_array without the (argc, argv, envp) arguments
# glibc passes, and the Go runtime's library entry point reads them, so an
# unprepared archive crashes at program start (golang/go#13492). This takes
# the entry point (_rt0_<arch>_linux_lib) out of the archive's .init_array
# and makes it global; musl/mm2_musl_start.c, compiled into the firmware,
# then calls it from its own constructor with valid arguments.
#
# OBJCOPY is the target's objcopy (e.g. arm-linux-musleabihf-objcopy);
# default $OBJCOPY, else objcopy. Run it once after every go build.
set -eu
lib=$1
objcopy=${2:-${OBJCOPY:-objcopy}}
case $lib in /*) ;; *) lib=$(pwd)/$lib ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
ar x "$lib" go.o
sym=$(nm go.o | awk '$2 == "t" && $3 ~ /^_rt0_[a-z0-9]+_linux_lib$/ { print $3; exit }')
if [ -z "$sym" ]; then
  echo "prepare-archive.sh: no _rt0_<arch>_linux_lib in $lib (already prepared, or not a Go c-archive)" >&2
  exit 1
fi
"$objcopy" --remove-section=.init_array --remove-section=.rela.init_array \
  --remove-section=.rel.init_array --globalize-symbol="$sym" go.o
ar r "$lib" go.o
echo "prepare-archive.sh: $sym is now started by mm2_musl_start.c"
