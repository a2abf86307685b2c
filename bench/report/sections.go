package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-run/strata/bench/plot"
)

var pullTools = []string{"strata", "podman", "ctr", "skopeo_umoci", "curl_tar", "strata_blobs", "skopeo", "curl"}

func (d *doc) pull() {
	cases := d.r.cases("pull")
	if len(cases) == 0 {
		return
	}
	d.p("## 1. Cold pull until ready to run\n")
	d.p("Each repetition gives every tool an empty store and pulls one image from the loopback registry until it " +
		"could run: strata and podman pull (which unpack), `ctr images pull` (which unpacks into the overlayfs " +
		"snapshotter of a containerd started on that store), `skopeo copy` then `umoci unpack`. Baselines: `curl` " +
		"fetching manifest, config and blobs to files, and `curl | tar -xz` per layer into one directory. " +
		"Stores on a tmpfs (tool overhead shows) and on ext4: a file system of the run's own on a loop device over the " +
		"machine's disk, mounted without online discard, so that removing one tool's store does not slow the next " +
		"tool's pull (the disk row above says where it lives). Peak RSS is that of the pulling " +
		"process tree; for containerd it adds the daemon's peak. \"store after pull\" is `du` of the store.\n")
	var groups []plot.Group
	for _, c := range cases {
		d.p("### %s\n", c)
		bars := d.timeTable("pull", c, pullTools, []string{"peak RSS", "store after pull"})
		groups = append(groups, plot.Group{Title: c, Bars: bars})
	}
	d.p("The blobs-only rows (`strata pull --no-unpack`, `skopeo copy`, `curl`) do not unpack: their \"× best peer\" is against `skopeo copy` (the peer strata's download is measured against) and their \"× baseline\" against `curl` fetching the same blobs.\n")
	d.chart("bench-pull.svg", "cold pull times", func(f *os.File) error {
		return plot.Bars(f, "Cold pull until ready to run", "seconds", groups)
	})
	d.warm()
}

func (d *doc) sharing() {
	idx := d.r.cases("sharing")
	if len(idx) == 0 {
		return
	}
	d.p("## 2. Layer sharing: ten images on one base\n")
	store := d.r.meta("sharing store")
	if store == "" {
		store = "ext4"
	}
	d.p("Each tool pulls `bench/app:0` … `app:9` one after another into one store on %s (every image is the "+
		"Debian base plus one unique 4 MiB layer); per image we record the pull time and the growth of the store "+
		"(`du`, after `sync`). The ideal growth of a further image is its unique layer: unpacked (files rounded to "+
		"4 KiB, plus a block per directory) and, for stores that keep the compressed blobs too (strata, containerd), "+
		"its blob. podman keeps no blobs, so its ideal is the unpacked layer alone. The `strata bench share` row is "+
		"the same sequence measured by that command (what a user runs against their own registry): its times are "+
		"taken inside one strata process, so they lack what each `strata pull` adds: starting the process, opening "+
		"the store and asking the registry whether the image is already up to date.\n", store)
	// The ideal growth of image c counts only the layers no earlier image had.
	seen := map[string]bool{}
	idealOf := map[string][2]float64{} // case → {unpacked, unpacked + blob}
	for _, c := range idx {
		img, _ := d.r.image("app" + c)
		var u, b float64
		for _, l := range img.Layers {
			if !seen[l.Digest] {
				seen[l.Digest] = true
				u += float64(l.Unpacked)
				b += float64(l.Unpacked + l.Size)
			}
		}
		idealOf[c] = [2]float64{u, b}
	}
	// ideal is that growth for a store that keeps blobs, or one that does not.
	ideal := func(c string, blobs bool) float64 {
		if blobs {
			return idealOf[c][1]
		}
		return idealOf[c][0]
	}
	d.p("| tool | first image | further images: median | min–max | growth per further image | its ideal | × ideal | total after %d images | × ideal total |", len(idx))
	d.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	ids := []string{"strata", "strata_share", "podman", "ctr", "curl_tar_shared"}
	var furtherBars []plot.Bar
	growthSeries := []plot.Series{}
	for _, id := range ids {
		first, ok := d.stat("sharing", idx[0], id, "time")
		if !ok {
			if len(d.r.notesFor("sharing", "", id)) > 0 {
				d.p("| %s | %s | | | | | | | |", toolByID(id).Label, d.why("sharing", "", id))
			}
			continue
		}
		blobs := toolByID(id).KeepsBlobs
		var further, growth, ideals []float64
		var xs, cum []float64
		total, idealTotal := 0.0, 0.0
		for _, c := range idx {
			g, _ := d.stat("sharing", c, id, "growth")
			n, _ := strconv.Atoi(c)
			xs = append(xs, float64(n+1))
			total += g.Median
			idealTotal += ideal(c, blobs)
			cum = append(cum, total/(1<<20))
			if c != idx[0] {
				further = append(further, d.r.Samples[key{"sharing", c, id, "time"}]...)
				growth = append(growth, d.r.Samples[key{"sharing", c, id, "growth"}]...)
				ideals = append(ideals, ideal(c, blobs))
			}
		}
		fs, _ := summarize(further)
		gs, _ := summarize(growth)
		is, _ := summarize(ideals)
		d.p("| %s | %s | %s | %s – %s | %s | %s | %s | %s | %s |", toolByID(id).Label, seconds(first.Median), seconds(fs.Median),
			seconds(fs.Min), seconds(fs.Max), bytes(gs.Median), bytes(is.Median), ratio(gs.Median, is.Median), bytes(total), ratio(total, idealTotal))
		furtherBars = append(furtherBars, plot.Bar{Label: plainLabel(id), Value: fs.Median, Min: fs.Min, Max: fs.Max, Highlight: id == "strata", ValueFormatted: seconds(fs.Median)})
		growthSeries = append(growthSeries, plot.Series{Name: plainLabel(id), X: xs, Y: cum, Highlight: id == "strata", Dashed: toolByID(id).Baseline})
	}
	d.p("")
	if len(growthSeries) > 0 {
		var xs, ys, ysU []float64
		cum, cumU := 0.0, 0.0
		for _, c := range idx {
			n, _ := strconv.Atoi(c)
			cum += ideal(c, true)
			cumU += ideal(c, false)
			xs, ys, ysU = append(xs, float64(n+1)), append(ys, cum/(1<<20)), append(ysU, cumU/(1<<20))
		}
		growthSeries = append(growthSeries, plot.Series{Name: "ideal, unpacked only", X: xs, Y: ysU, Dashed: true})
		growthSeries = append(growthSeries, plot.Series{Name: "ideal, with blobs", X: xs, Y: ys, Dashed: true})
		d.chart("bench-sharing-disk.svg", "store growth over ten pulls", func(f *os.File) error {
			return plot.Lines(f, "Store size while pulling ten images sharing one base", "images pulled", "MiB (median)", false, growthSeries)
		})
		d.chart("bench-sharing-time.svg", "pull time of a further image", func(f *os.File) error {
			return plot.Bars(f, "Pull time of each image after the first (the base is present)", "seconds",
				[]plot.Group{{Title: "images 2 to 10", Bars: furtherBars}})
		})
	}
	if d.r.SystemDF != "" {
		d.p("`strata system df` after the ten pulls (last repetition):\n\n```\n%s\n```\n", d.r.SystemDF)
	}
}

var startTools = []string{"strata", "runc", "runc_docker", "crun", "crun_docker", "podman", "ctr", "unshare", "unshare_chroot"}

// ociRuntimes are the rows of the table dividing strata's start by each OCI runtime's.
var ociRuntimes = []string{"runc", "runc_docker", "crun", "crun_docker"}

func (d *doc) start() {
	if len(d.r.cases("start")) == 0 && len(d.r.notesFor("start", "alpine", "strata")) == 0 {
		return
	}
	d.p("## 3. Start latency: `true` in alpine\n")
	d.p("hyperfine, `-N`, %s warmup runs, from command to exit with everything removed: `strata run --rm`, "+
		"`podman run --rm`, `ctr run --rm` on images already pulled; `runc run` and `crun run` on a prepared "+
		"bundle (alpine rootfs, `runc spec` with no terminal), and again on that bundle given docker's default "+
		"capabilities and seccomp profile, which strata applies (see the note below the tables); baseline `unshare` with the same namespaces "+
		"(pid, mount, uts, ipc, net), on the host root and chrooted into alpine, after a `sync` so that no "+
		"earlier writeback stalls the files a start creates. How each tool was made to run on "+
		"this host is in the notes at the end.\n", d.r.meta("hyperfine warmup"))
	d.p("What bounds these times on a cgroup v1 or hybrid host: moving a process into a cgroup waits for an " +
		"RCU grace period (6–25 ms on this kernel) unless another move came just before, so a tool whose " +
		"back-to-back starts are close enough finds the wait over and one started after a quiet spell pays it. " +
		"strata moves no process: its init is born in the v2 (or hybrid unified) cgroup and its thread joins " +
		"the v1 controllers itself, the one move the kernel makes without that wait (docs/design.md). What is " +
		"left is work, on 2 vCPUs here: the CPU column is user plus system time per start (the tool and its " +
		"children, hyperfine's mean). strata's is two Go programs starting and exiting (the CLI: `strata " +
		"version` alone takes 3–5 ms of CPU here; and the container's init helper) besides the " +
		"kernel's work for namespaces, mounts and cgroups that every tool here does; crun's is one C program.\n")
	bars := d.timeTable("start", "alpine", startTools, []string{"CPU per start (mean)"})
	if len(bars) > 0 {
		d.chart("bench-start.svg", "start latency", func(f *os.File) error {
			return plot.Bars(f, "Start latency of true in alpine", "seconds", []plot.Group{{Title: "run --rm true", Bars: bars}})
		})
	}
	if slices.Contains(d.r.cases("start"), "alpine-spaced") {
		d.p("The same starts spaced out: hyperfine sleeps %s s before each (not timed), as a user typing "+
			"commands or a script doing anything between two starts spaces them. Here a tool that moves its "+
			"process into a cgroup pays the RCU grace period that the back-to-back runs above find over "+
			"(the 32 ms of crun and 61 ms of runc measured earlier on this kind of machine are starts like these).\n", d.r.meta("start gap"))
		d.timeTable("start", "alpine-spaced", startTools, []string{"CPU per start (mean)"})
	}
	if slices.Contains(d.r.cases("start"), "alpine-interleaved") {
		d.p("strata and the OCI runtimes once more, interleaved (`bench/interleave`, %s): each round "+
			"runs every tool once, in an order rotated every round, so that all of them are timed over the "+
			"same minutes. hyperfine above times one tool's runs in a block, and this VM's speed drifts "+
			"between blocks a minute apart. The clock is the same as hyperfine's (fork to reaping, no "+
			"shell); crun runs in the mount namespace with cgroup2 hidden, which interleave joins for "+
			"its runs (no nsenter in the time). In a round each tool's previous start is another tool's: "+
			"runc and crun, which move their process into a cgroup, at times find the RCU grace period "+
			"still running that their own previous start, just before, would have ended (the spread of "+
			"their times), so their interleaved starts sit between their two hyperfine tables above; "+
			"strata's starts, which move no process, do not depend on what ran before.\n", d.r.meta("interleaved runs"))
		d.timeTable("start", "alpine-interleaved", interleavedTools, []string{"CPU per start (mean)"})
		if slices.Contains(d.r.cases("start"), "alpine-interleaved-spaced") {
			d.p("Interleaved and spaced (%s s slept before each run, not timed):\n", d.r.meta("start gap"))
			d.timeTable("start", "alpine-interleaved-spaced", interleavedTools, []string{"CPU per start (mean)"})
		}
	}
	d.startBundles()
}

// interleavedTools are the rows of the interleaved start tables.
var interleavedTools = append([]string{"strata"}, ociRuntimes...)

// startBundles says what the two kinds of runc and crun bundle carry and divides strata's
// start by each runtime's, back to back and spaced, so that a reader finds like for like:
// strata applies docker's security defaults, `runc spec`'s bundle does not.
func (d *doc) startBundles() {
	measured := false
	for _, id := range []string{"runc_docker", "crun_docker"} {
		for _, c := range []string{"alpine", "alpine-spaced"} {
			if _, ok := d.stat("start", c, id, "time"); ok || len(d.r.notesFor("start", c, id)) > 0 {
				measured = true
			}
		}
	}
	interleaved := slices.Contains(d.r.cases("start"), "alpine-interleaved")
	if !measured && !interleaved {
		return // results from before either existed: the tables above say it all
	}
	// run.sh records what each bundle's config.json holds.
	carries := func(key string) string {
		if m := d.r.meta(key); m != "" {
			return " (" + mdEscape(m) + ")"
		}
		return ""
	}
	if measured {
		d.p("What the runc and crun bundles carry: \"prepared bundle\" is `runc spec`'s%s; \"docker's default profile\" is "+
			"that bundle rewritten by `bench/ocisecurity` with docker's default capabilities and docker's default seccomp "+
			"profile (moby/profiles) resolved for them%s, what docker gives a container by default. strata gives docker's "+
			"capabilities less MKNOD and applies that profile resolved for them.\n", carries("bundle runc spec"), carries("bundle docker defaults"))
	}
	st, ok := d.stat("start", "alpine", "strata", "time")
	sp, spOK := d.stat("start", "alpine-spaced", "strata", "time")
	if !ok && !spOK && !interleaved {
		return
	}
	d.p("strata's median start divided by each runtime's (below 1.00× strata is faster):\n")
	if interleaved {
		d.p("The interleaved columns divide strata's time by the runtime's in each round and give the " +
			"median of those ratios, with the middle half of them in parentheses.\n")
		d.p("| strata ÷ | back to back | spaced | interleaved | interleaved, spaced |\n|---|---:|---:|---:|---:|")
	} else {
		d.p("| strata ÷ | back to back | spaced |\n|---|---:|---:|")
	}
	for _, id := range ociRuntimes {
		rt, rtOK := d.stat("start", "alpine", id, "time")
		rs, rsOK := d.stat("start", "alpine-spaced", id, "time")
		il := d.paired("alpine-interleaved", id)
		ils := d.paired("alpine-interleaved-spaced", id)
		if !rtOK && !rsOK && il == "—" && ils == "—" {
			continue
		}
		back, spaced := "—", "—"
		if ok && rtOK {
			back = ratio(st.Median, rt.Median)
		}
		if spOK && rsOK {
			spaced = ratio(sp.Median, rs.Median)
		}
		if interleaved {
			d.p("| %s | %s | %s | %s | %s |", toolByID(id).Label, back, spaced, il, ils)
		} else {
			d.p("| %s | %s | %s |", toolByID(id).Label, back, spaced)
		}
	}
	d.p("")
}

// paired is strata's start divided by id's in case cas, round by round (pairedRatio); when a
// failed run unpaired the series, the ratio of their medians.
func (d *doc) paired(cas, id string) string {
	a := d.r.Samples[key{"start", cas, "strata", "time"}]
	b := d.r.Samples[key{"start", cas, id, "time"}]
	if r, ok := pairedRatio(a, b); ok {
		return r
	}
	sa, okA := summarize(a)
	sb, okB := summarize(b)
	if !okA || !okB {
		return "—"
	}
	return ratio(sa.Median, sb.Median) + " (medians)"
}

func (d *doc) density() {
	if len(d.r.cases("density")) == 0 {
		return
	}
	d.p("## 4. Density: detached `sleep` containers\n")
	d.p("Each tool starts %s detached `sleep` containers from alpine, one after another. The monitor of a container "+
		"is the host parent of its `sleep`: strata's monitor, conmon, containerd-shim-runc-v2. RSS and PSS (shared "+
		"pages split between the processes sharing them) are read from /proc once all are running; disk is the "+
		"growth of the store divided by the number of containers. `run -d` and `rm -f` are timed per container "+
		"(runc and crun: `create` + `start`, and `delete -f`, on a prepared bundle; they have no monitor).\n", d.r.meta("density"))
	d.p("| tool | monitor RSS: median | min–max | × best peer | monitor PSS | monitors | disk per container | run -d: median | min–max | rm -f: median | min–max |")
	d.p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var bars, pssBars []plot.Bar
	bestRSS := math.Inf(1)
	for _, id := range []string{"podman", "ctr"} {
		if s, ok := d.stat("density", "monitor", id, "rss"); ok {
			bestRSS = min(bestRSS, s.Median)
		}
	}
	for _, id := range []string{"strata", "podman", "ctr", "runc", "crun"} {
		rs, rok := d.stat("density", "monitor", id, "rss")
		ps, _ := d.stat("density", "monitor", id, "pss")
		mons, _ := d.stat("density", "monitor", id, "monitors")
		disk, dok := d.stat("density", "disk", id, "per-container")
		run, runok := d.stat("density", "run-d", id, "time")
		rm, rmok := d.stat("density", "rm", id, "time")
		if !rok && !runok {
			if len(d.r.notesFor("density", "", id)) > 0 {
				d.p("| %s | %s | | | | | | | | | |", toolByID(id).Label, d.why("density", "", id))
			}
			continue
		}
		cell := func(ok bool, s string) string {
			if !ok {
				return "—"
			}
			return s
		}
		d.p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", toolByID(id).Label,
			cell(rok, bytes(rs.Median)), cell(rok, bytes(rs.Min)+" – "+bytes(rs.Max)), cell(rok, ratio(rs.Median, bestRSS)), cell(rok && ps.N > 0, bytes(ps.Median)),
			cell(rok, fmt.Sprint(mons.Median)), cell(dok, bytes(disk.Median)),
			cell(runok, seconds(run.Median)), cell(runok, seconds(run.Min)+" – "+seconds(run.Max)),
			cell(rmok, seconds(rm.Median)), cell(rmok, seconds(rm.Min)+" – "+seconds(rm.Max)))
		if rok {
			bars = append(bars, plot.Bar{Label: plainLabel(id), Value: rs.Median / (1 << 20), Min: rs.Min / (1 << 20), Max: rs.Max / (1 << 20),
				Highlight: id == "strata", ValueFormatted: bytes(rs.Median)})
		}
		if pss := d.r.Samples[key{"density", "monitor", id, "pss"}]; len(pss) > 0 {
			p, _ := summarize(pss)
			pssBars = append(pssBars, plot.Bar{Label: plainLabel(id), Value: p.Median / (1 << 20), Min: p.Min / (1 << 20), Max: p.Max / (1 << 20),
				Highlight: id == "strata", ValueFormatted: bytes(p.Median)})
		}
	}
	d.p("")
	if len(bars) > 0 {
		d.chart("bench-density.svg", "monitor memory", func(f *os.File) error {
			return plot.Bars(f, "Memory of each container's monitor", "MiB",
				[]plot.Group{{Title: "RSS", Bars: bars}, {Title: "PSS (shared pages divided among their users)", Bars: pssBars}})
		})
	}
}

func (d *doc) scaling() {
	for _, part := range []struct{ measure, title, file string }{
		{"scaling-pull", "pull time (cold, store on tmpfs)", "bench-scaling-pull.svg"},
		{"scaling-start", "start latency of `true`", "bench-scaling-start.svg"},
	} {
		counts := d.r.cases(part.measure)
		if len(counts) == 0 {
			continue
		}
		if part.measure == "scaling-pull" || len(d.r.cases("scaling-pull")) == 0 {
			d.p("## 5. Scaling with the number of layers\n")
			d.p("`bench/layers:N` is alpine plus N-1 small layers (four 4 KiB files each).\n")
		}
		d.p("### %s\n", strings.ToUpper(part.title[:1])+part.title[1:])
		head := "| tool |"
		sep := "|---|"
		for _, c := range counts {
			head += fmt.Sprintf(" %s layers |", c)
			sep += "---:|"
		}
		d.p("%s\n%s", head, sep)
		var series []plot.Series
		for _, id := range []string{"strata", "podman", "ctr", "curl_tar"} {
			row := "| " + toolByID(id).Label + " |"
			var xs, ys []float64
			any := false
			for _, c := range counts {
				s, ok := d.stat(part.measure, c, id, "time")
				if !ok {
					row += " — |"
					continue
				}
				any = true
				row += fmt.Sprintf(" %s (%s – %s) |", seconds(s.Median), seconds(s.Min), seconds(s.Max))
				n, _ := strconv.Atoi(c)
				xs, ys = append(xs, float64(n)), append(ys, s.Median)
			}
			if !any {
				if len(d.r.notesFor(part.measure, "", id)) > 0 {
					d.p("| %s | %s |%s", toolByID(id).Label, d.why(part.measure, "", id), strings.Repeat(" |", len(counts)-1))
				}
				continue
			}
			d.p("%s", row)
			series = append(series, plot.Series{Name: plainLabel(id), X: xs, Y: ys, Highlight: id == "strata", Dashed: toolByID(id).Baseline})
		}
		d.p("")
		if len(series) > 0 {
			title := "Scaling: " + strings.ReplaceAll(part.title, "`", "")
			d.chart(part.file, part.title, func(f *os.File) error {
				return plot.Lines(f, title, "layers (log scale)", "seconds (median)", true, series)
			})
		}
	}
}

// uniqueNotes drops repeated identical notes, which a failing tool produces once per case.
func uniqueNotes(ns []Note) []Note {
	return slices.CompactFunc(ns, func(a, b Note) bool { return a == b })
}

func (d *doc) micro() {
	if d.r.Micro == "" && len(d.r.notesFor("micro", "", "go")) == 0 {
		return
	}
	d.p("## 6. Go micro-benchmarks of the hot paths\n")
	d.p("`go test -run '^$' -bench . -benchmem` in the packages that own the hot paths, as printed; " +
		"save two runs and compare them with `benchstat old.txt new.txt`.\n")
	if d.r.Micro != "" {
		d.p("```\n%s\n```\n", d.r.Micro)
	} else {
		d.p("%s\n", d.why("micro", "", "go"))
	}
}

func (d *doc) warm() {
	if len(d.r.cases("warm")) == 0 {
		return
	}
	d.p("### Pulling an image that is already present\n")
	d.p("alpine pulled again into a store that has it; requests are the `/v2/` lines in the registry's access log during the pull.\n")
	d.p("| tool | median | min–max | runs | × best peer | registry requests |\n|---|---:|---:|---:|---:|---:|")
	best := math.Inf(1)
	for _, id := range []string{"podman", "ctr"} {
		if s, ok := d.stat("warm", "alpine", id, "time"); ok {
			best = min(best, s.Median)
		}
	}
	for _, id := range []string{"strata", "podman", "ctr"} {
		s, ok := d.stat("warm", "alpine", id, "time")
		if !ok {
			if len(d.r.notesFor("warm", "alpine", id)) > 0 {
				d.p("| %s | %s | | | | |", toolByID(id).Label, d.why("warm", "alpine", id))
			}
			continue
		}
		req, _ := d.stat("warm", "alpine", id, "requests")
		d.p("| %s | %s | %s – %s | %d | %s | %g |", toolByID(id).Label, seconds(s.Median), seconds(s.Min), seconds(s.Max), s.N,
			ratio(s.Median, best), req.Median)
	}
	d.p("")
}
