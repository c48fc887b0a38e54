# Build a static binary, then run it as a non-root user on a minimal image
# that has only CA certificates (for FTPS) and the binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ftpbridge . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ftpbridge /ftpbridge
# Share links and their key: keep /data on a volume so links survive a
# new container.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV FTPBRIDGE_DATA_DIR=/data
VOLUME /data
# Inside a container the bridge must listen on all interfaces; put TLS in
# front of it (see README).
ENV FTPBRIDGE_LISTEN=:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/ftpbridge"]
