#!/usr/bin/env bash
# The whole test suite: unit, property and end-to-end tests on real data and real
# models (fetched by setup.sh). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --release --locked --workspace
