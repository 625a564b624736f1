#!/usr/bin/env bash
# The whole test suite: unit, property and end-to-end tests on real data and real
# models (fetched by setup.sh). Installs what it needs. With arguments, only what they
# select, e.g. `bash scripts/test.sh --test signals -- --nocapture` (cargo test's own).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [[ $# -gt 0 ]]; then
  cargo test --release --locked "$@"
else
  cargo test --release --locked --workspace
fi
