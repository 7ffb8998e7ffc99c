# The finlake binary for infra/docker-compose.yml (build context: the repository root).
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --locked --release --bin finlake

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/finlake /usr/local/bin/finlake
ENTRYPOINT ["/usr/local/bin/finlake"]
