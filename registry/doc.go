// Package registry talks to container registries for strata: it parses references, resolves
// them to one platform's image, fetches blobs, pushes, and logs in. It builds on
// go-containerregistry (name, remote, transport, authn) and owns what strata's users see:
// how references print, mirrors, retries, and one-line errors.
//
// Terms:
//
//   - Reference: what a user types, normalized as Docker does: "alpine" is
//     docker.io/library/alpine:latest. It may carry a tag, a digest, or both.
//   - Registry: the host of a reference, printed "docker.io" for Docker Hub even though its API
//     lives at index.docker.io.
//   - Endpoint: a place a reference's repository is fetched from: a mirror, or the registry.
//   - Root descriptor: what a reference points at, an index or a manifest.
//   - Platform manifest: the manifest chosen for the Puller's platform; its digest is the
//     image's Digest.
//
// A command makes one Puller and asks it for every image it needs. The Puller keeps one
// authenticated transport per registry and repository, so a pull does its token handshake
// once, not once per blob:
//
//	p, err := registry.NewPuller(registry.Options{ConfigPath: root + "/registries.json"})
//	ref, err := registry.ParseReference("alpine")
//	img, err := p.Image(ctx, ref)             // mirrors first, then docker.io
//	fmt.Println("Digest:", img.Descriptor.Digest)
//	body, err := img.FetchBlob(ctx, layerDigest, 0)
//
// `pull --all-platforms` asks for the index instead, and reads every manifest it lists
// through it: idx, err := p.Index(ctx, ref); img, err := idx.Image(childDigest).
//
// Every failure a user can cause or fix is an *Error whose message is one printable line,
// wrapping a sentinel (ErrUnauthorized, ErrNotFound, ErrTooManyRequests, ErrUnreachable, …)
// for callers that branch, plus *PlatformError for ErrNoMatchingPlatform. The package never
// prints.
package registry
