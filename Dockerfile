# syntax=docker/dockerfile:1
# pipec's container image: a static binary on an empty base, running as a
# non-root user, suited to a read-only root filesystem. It serves
# `pipec serve` by default and carries the Argo CD Config Management Plugin
# definition (deploy/argocd/plugin.yaml) for use as a repo-server sidecar.
#
#   docker build -t pipec:dev --build-arg VERSION=v0.1.0 .
#
# Pin the builder by digest in your registry mirror for reproducible builds:
#   --build-arg GO_IMAGE=golang:1.26.8-bookworm@sha256:<digest>
# and name a Go module mirror with --build-arg GOPROXY=<url>.
ARG GO_IMAGE=golang:1.26.8-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
# The module and build caches are where the cache mounts are, whatever the
# base image's GOPATH. GOPROXY may name your module mirror.
ARG GOPROXY=https://proxy.golang.org,direct
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath GOPROXY=${GOPROXY} \
    GOMODCACHE=/root/go/pkg/mod GOCACHE=/root/.cache/go-build
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=(devel)
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags "-s -w -X github.com/pipec/pipec/internal/cli.version=${VERSION}" -o /out/pipec ./cmd/pipec \
 && /out/pipec version
# The runtime has no shell or package manager: prepare its files here.
RUN mkdir -p /out/etc /out/tmp /out/home/argocd/cmp-server/config \
 && echo 'nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin' > /out/etc/passwd \
 && echo 'argocd:x:999:999:argocd:/tmp:/sbin/nologin' >> /out/etc/passwd \
 && printf 'nonroot:x:65532:\nargocd:x:999:\n' > /out/etc/group \
 && cp deploy/argocd/plugin.yaml /out/home/argocd/cmp-server/config/plugin.yaml

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/etc/passwd /out/etc/group /etc/
COPY --from=build --chmod=1777 /out/tmp /tmp
COPY --from=build /out/home /home
COPY --from=build /out/pipec /usr/local/bin/pipec
ENV PATH=/usr/local/bin HOME=/tmp
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pipec"]
CMD ["serve", "--addr=:8080"]
