# syntax=docker/dockerfile:1
# BuildKit is required (cache mounts; optional COPY wildcards).

# ---------------------------------------------------------------- builder
FROM rust:1-bookworm AS builder
WORKDIR /app

COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY lua ./lua
COPY migrations ./migrations
# The pages and the frontends' package are embedded in the binary (rust-embed).
COPY web ./web
COPY clients/js/src ./clients/js/src
# Optional: the bracket globs match nothing (and copy nothing) when absent.
COPY example[s] ./examples/

RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/app/target \
    cargo build --profile dist --locked \
    && cp target/dist/boxoffice /usr/local/bin/boxoffice

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 boxoffice \
    && useradd --system --uid 10001 --gid boxoffice --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin boxoffice

COPY --from=builder /usr/local/bin/boxoffice /usr/local/bin/boxoffice

ENV BOXOFFICE_ADDR=0.0.0.0:8080
EXPOSE 8080
USER boxoffice:boxoffice
ENTRYPOINT ["boxoffice"]
