#!/usr/bin/env bash
# bench/tar-pipe.sh — the peers' way to make a layer: tar the context's data/
# and pipe it through a compressor.
#
# usage: bench/tar-pipe.sh CTX OUT COMPRESSOR [ARGS...]
#   runs: tar -C CTX -cf - data | COMPRESSOR ARGS > OUT
set -euo pipefail

ctx=$1 out=$2
shift 2
tar -C "$ctx" -cf - data | "$@" >"$out"
