# medialib tasks. `just` lists them.

default:
    @just --list

# Run the server on the embedded default (SQLite + local files under ./data)
run:
    cargo run --release -- serve

# Run every test (unit, adapter, end to end)
test:
    cargo test --workspace

# Run only the end-to-end tests against the real binary
e2e:
    cargo test -p medialib-server --test e2e

# Formatting and lints, as CI runs them
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code
fmt:
    cargo fmt --all

# Regenerate openapi/medialib.json and openapi/compat/*.json from the code
openapi:
    cargo run -q -- openapi > openapi/medialib.json
    for p in gallery swiftia swonkie catdata defdrive; do cargo run -q -- openapi --compat $p > openapi/compat/$p.json; done

# Crash campaign: SIGKILL the real server N times under load, then check every invariant
crash runs="20":
    cargo test -p medialib-server --test crash -- --runs {{runs}}

# Benchmark against the raw ceilings of a backend (sqlite|postgres|mysql, file|s3); see docs/benchmarks.md
bench database="sqlite" blobs="file" *args="":
    cargo build --release -p medialib-server -p medialib-bench
    cargo run --release -q -p medialib-bench -- --database {{database}} --blobs {{blobs}} --json target/bench-{{database}}-{{blobs}}.json {{args}}

# medialib against pict-rs 0.5.25 on PostgreSQL + files, same load generator, taking turns.
# Installs pict-rs into $PICT_RS_ROOT (default /var/tmp/medialib-tools/pict-rs) on first use:
# a release build of some minutes. See docs/benchmarks.md.
bench-peers *args="":
    #!/usr/bin/env bash
    set -euo pipefail
    root="${PICT_RS_ROOT:-/var/tmp/medialib-tools/pict-rs}"
    if [ ! -x "$root/bin/pict-rs" ]; then
        cargo install pict-rs --version 0.5.25 --locked --root "$root"
    fi
    cargo build --release -p medialib-server -p medialib-bench
    cargo run --release -q -p medialib-bench -- --database postgres --blobs file \
        --pict-rs "$root/bin/pict-rs" --json target/bench-peers.json {{args}}

# Everything CI runs
ci:
    bash .ci/run
