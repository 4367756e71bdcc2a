# Two ways to build the workbook image:
#
#   With a registry (pulls the Go toolchain image):
#     docker build --target app -t workbook:latest .
#
#   Without a registry, from a static binary built on the host:
#     CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
#     DOCKER_BUILDKIT=1 docker build --target prebuilt -t workbook:latest .
#
# Both final images are FROM scratch: one static binary, no shell. The
# server needs a writable temporary directory (grading on the built-in
# environment keeps a SQLite file there) and a data directory, which a
# scratch image has no RUN to make: deploy/rootfs.tar holds both, owned by
# 65532, /tmp with mode 1777, and ADD unpacks it with owners and modes, with
# the classic builder and BuildKit alike. It was made with
#   mkdir -p r/tmp r/data && chmod 1777 r/tmp && tar --format=ustar --sort=name \
#     --mtime=2026-01-01Z --numeric-owner --owner=65532 --group=65532 -b 1 -C r -cf deploy/rootfs.tar data tmp

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server ./cmd/server

FROM scratch AS app
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ADD deploy/rootfs.tar /
COPY --from=build /out/server /server
USER 65532:65532
ENV WORKBOOK_ADDR=:8080 WORKBOOK_DATA_DIR=/data WORKBOOK_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
# The web server: /readyz answers 200; `server grader`: it found the
# database and Redis answering in the last 20 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/server", "healthcheck"]
ENTRYPOINT ["/server"]

FROM scratch AS prebuilt
ADD deploy/rootfs.tar /
COPY bin/server /server
USER 65532:65532
ENV WORKBOOK_ADDR=:8080 WORKBOOK_DATA_DIR=/data WORKBOOK_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
# The web server: /readyz answers 200; `server grader`: it found the
# database and Redis answering in the last 20 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/server", "healthcheck"]
ENTRYPOINT ["/server"]
