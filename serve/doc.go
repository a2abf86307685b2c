// Package serve serves strata's image store as a read-only OCI distribution registry
// (https://github.com/opencontainers/distribution-spec/blob/main/spec.md), so that docker,
// podman, skopeo and strata on other machines pull from a machine's cache with no other
// registry to run.
//
// Terms, as this package uses them:
//
//   - name: the repository path a client asks for, "library/alpine" in
//     GET /v2/library/alpine/manifests/latest. The store keeps full references
//     ("docker.io/library/alpine:latest", "127.0.0.1:5000/x:1"); a ref is served under its
//     path without the registry host. When two registries hold the same path, docker.io wins,
//     then the hosts in lexical order. A one-element name ("alpine") also finds Docker Hub's
//     official "library/alpine", as docker's own name rules would, and a name starting with
//     the host ("docker.io/library/alpine") finds exactly that ref.
//   - reference: a tag or a digest, as the spec calls the last element of a manifests URL.
//
// What is served: GET and HEAD of /v2/, of manifests by tag and by digest (with their media
// type as Content-Type and Docker-Content-Digest), of blobs (through http.ServeContent, so Range
// requests work), /v2/<name>/tags/list and /v2/_catalog (both with the spec's n and last
// pagination). A blob is served only under a name whose images use it (or used it
// in the last 10 minutes, for a pull under way: reach.go). Every other method is
// 405 with the spec's UNSUPPORTED error, and every miss a 404 with the spec's JSON error body.
// With Options.PullThrough, a manifest miss (or a manifest damaged in the store) first asks
// upstream, stores what it gets and then serves it: a pull-through mirror. What upstream sends
// goes through registry's limits (MaxManifestSize, MaxConfigSize, the descriptors' sizes), at
// most maxPullsThrough pulls of maxPullLayers blobs each at once.
//
// Requests are hostile input: a name must match the spec's grammar (255 characters at most),
// a digest must be a well-formed sha256, so no request names a path outside the store's
// blobs. A blob file whose size is not its descriptor's (damaged on disk), or that is a
// symlink, FIFO or device, is a 500; one of the right size whose bytes do not hash to its
// digest is never sent whole: the first GET of each blob file hashes it (see verify.go), and
// cuts the connection before the last bytes if it does not match; a HEAD hashes it first, so
// that it answers as the GET would. Each blob file is hashed once, whatever it was found. A manifest whose media type
// the request's Accept list leaves out is MANIFEST_UNKNOWN, as docker's registry answers, but
// for a Docker manifest list asked for by tag, whose linux/amd64 image is served instead, as
// docker's registry rewrites it for clients that do not read lists. A
// response that makes no progress for two minutes (a client that stopped reading) is given up.
// A Listener (conns.go) bounds the connections clients hold, making room by closing those that
// wait longest for a request; NewHTTPServer sets the header and idle timeouts.
package serve
