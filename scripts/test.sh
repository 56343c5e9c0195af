#!/usr/bin/env bash
# The project's test command: every package, with the race detector, each
# fuzz target's seed corpus included (go test runs seeds as unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -count=1 -timeout 12m ./... "$@"
