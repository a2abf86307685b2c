package main

// tool describes how one tool appears in the tables.
type tool struct {
	ID        string // as bench/run.sh records it
	Label     string
	Peer      bool // counts for "× best peer"
	Baseline  bool
	BlobsOnly bool // fetches without unpacking: compared with skopeo copy and the curl baseline
	BlobsPeer bool // the peer blobs-only rows are compared with
	// KeepsBlobs is true for stores that keep the compressed blobs next to the unpacked
	// layers; their ideal growth per layer includes the blob.
	KeepsBlobs bool
}

var tools = []tool{
	{ID: "strata", Label: "**strata**", KeepsBlobs: true},
	{ID: "strata_share", Label: "**strata bench share** (in-process: no process start)", KeepsBlobs: true},
	{ID: "podman", Label: "podman", Peer: true},
	{ID: "ctr", Label: "containerd (ctr)", Peer: true, KeepsBlobs: true},
	{ID: "skopeo_umoci", Label: "skopeo copy + umoci unpack", Peer: true},
	{ID: "runc", Label: "runc (prepared bundle)", Peer: true},
	{ID: "crun", Label: "crun (prepared bundle)", Peer: true},
	// The same bundle with docker's default capabilities and seccomp profile (bench/ocisecurity).
	// Not peers, so that "× best peer" keeps its meaning from before they were measured.
	{ID: "runc_docker", Label: "runc (prepared bundle, docker's default profile)"},
	{ID: "crun_docker", Label: "crun (prepared bundle, docker's default profile)"},
	{ID: "strata_blobs", Label: "**strata pull --no-unpack**, blobs only", BlobsOnly: true},
	{ID: "skopeo", Label: "skopeo copy, blobs only", BlobsOnly: true, BlobsPeer: true},
	{ID: "curl", Label: "baseline: curl, blobs only", Baseline: true, BlobsOnly: true},
	{ID: "curl_tar", Label: "baseline: curl \\| tar -xz", Baseline: true},
	{ID: "curl_tar_shared", Label: "baseline: curl \\| tar -xz, unique layers only", Baseline: true},
	{ID: "unshare", Label: "baseline: unshare -fpmuin --mount-proc true", Baseline: true},
	{ID: "unshare_chroot", Label: "baseline: unshare -fpmuin --root=alpine /bin/true", Baseline: true},
}

// toolByID returns the description of id; unknown tools get their ID as label.
func toolByID(id string) tool {
	for _, t := range tools {
		if t.ID == id {
			return t
		}
	}
	return tool{ID: id, Label: id}
}

// plainLabel is the label without markdown, for plots.
func plainLabel(id string) string {
	switch id {
	case "strata":
		return "strata"
	case "strata_share":
		return "strata bench share"
	case "curl_tar":
		return "baseline: curl | tar -xz"
	case "curl_tar_shared":
		return "baseline: unique layers only"
	case "unshare_chroot":
		return "baseline: unshare + chroot"
	case "unshare":
		return "baseline: unshare"
	case "runc_docker": // the full label does not fit the plots' label column
		return "runc, docker's default profile"
	case "crun_docker":
		return "crun, docker's default profile"
	case "strata_blobs":
		return "strata pull --no-unpack"
	}
	return toolByID(id).Label
}
