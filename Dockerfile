# syntax=docker/dockerfile:1
#
# hookguard container image.
#
#   docker build -t hookguard .
#   docker run --rm -p 8443:8443 -p 9901:9901 \
#     -v /srv/hookguard:/etc/hookguard:ro hookguard    # holds hookguard.yaml and certs/
#
# Mount a directory, never a single file: editors and deploy tools replace a file by renaming
# a new one over it, and a single-file bind mount keeps showing the old inode, so hookguard
# would never see the rotated secret.

# ---- build -------------------------------------------------------------------------------
# Debian 12 on both sides, so the binary links against the glibc it will run with.
FROM rust:1-bookworm AS build
WORKDIR /src
# .dockerignore keeps target/, .git and any private key out of the context.
COPY . .
# --locked: build exactly the committed Cargo.lock, fail rather than resolve anew.
# The cache mounts keep the crate downloads between builds; the binary stays in the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked --bin hookguard

# ---- runtime -----------------------------------------------------------------------------
# distroless/cc: glibc, libgcc and the CA bundle (for https:// upstreams), no shell, no
# package manager. Its "nonroot" user is uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/hookguard /usr/local/bin/hookguard

# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532

# hookguard.yaml here; TLS cert/key under /etc/hookguard/certs (see certs/README.md).
ENV HOOKGUARD_CONFIG=/etc/hookguard/hookguard.yaml

# 8443: the webhook listener (`listen`); 9901: the admin listener (`admin.listen`), which
# must bind 0.0.0.0 inside a container for anything outside it to reach /healthz or /metrics.
EXPOSE 8443 9901

# No HEALTHCHECK: the image has no curl or shell, and hookguard has no probe subcommand.
# Orchestrators probe the admin listener: GET /healthz (alive) and /readyz (serving).
# hookguard drains for up to 30 s on SIGTERM: give `docker stop` a longer timeout (-t 35).
ENTRYPOINT ["/usr/local/bin/hookguard", "run"]
