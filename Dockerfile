# nexds in a container: built with the same cargo command as CI (.ci/run), run as an
# unprivileged user with its data in the /data volume.
#   docker build -t nexds .
#   docker run -p 8080:8080 -v nexds-data:/data nexds
# The first title token is then in the volume: docker run --rm -v nexds-data:/data
# busybox cat /data/title-token. Settings: NEXDS_* variables (README, Configuration).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock schema.sql schema-postgres.sql ./
# The bundled SQLite's compile options (LIBSQLITE3_FLAGS).
COPY .cargo ./.cargo
COPY src ./src
# A dev-dependency of the tests, but Cargo.lock names it: cargo reads its manifest.
COPY tests/macros ./tests/macros
RUN cargo build --release --locked --bin nexds

FROM debian:bookworm-slim
# curl answers the health check; ca-certificates for an S3 store behind https. Not
# pinned: Debian's security updates of bookworm should reach the image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 nexds \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin nexds \
    && install -d -m 0700 -o nexds -g nexds /data
COPY --from=build /src/target/release/nexds /usr/local/bin/nexds
# The nexds user, by number so the host can tell it too.
USER 10001:10001
WORKDIR /data
ENV NEXDS_DATA_DIR=/data \
    NEXDS_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/ready"]
ENTRYPOINT ["nexds"]
CMD ["serve"]
