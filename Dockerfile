# Two ways to build the workbook image:
#
#   With a registry (pulls the Go toolchain image):
#     docker build --target app -t workbook:latest .
#
#   Without a registry, from a static binary built on the host:
#     CGO_ENABLED=0 go build -trimpath -o bin/server ./cmd/server
#     DOCKER_BUILDKIT=1 docker build --target prebuilt -t workbook:latest .
#
# Both final images are FROM scratch: one static binary, no shell.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/server ./cmd/server \
 && mkdir -p /out/data

FROM scratch AS app
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/server /server
USER 65532:65532
ENV WORKBOOK_ADDR=:8080 WORKBOOK_DATA_DIR=/data WORKBOOK_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/server"]

FROM scratch AS prebuilt
COPY --chown=65532:65532 deploy/empty/ /data/
COPY bin/server /server
USER 65532:65532
ENV WORKBOOK_ADDR=:8080 WORKBOOK_DATA_DIR=/data WORKBOOK_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/server"]
