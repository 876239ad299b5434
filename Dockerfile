# Builds both binaries; used by docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p hive-api -p hive-worker

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hive-api /src/target/release/hive-worker /usr/local/bin/
EXPOSE 8080
CMD ["hive-api"]
