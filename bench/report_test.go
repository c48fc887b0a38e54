package bench

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// modeTitles names the tables.
var modeTitles = map[string]string{
	"0 ms":  "At loopback (0 ms RTT)",
	"20 ms": "20 ms from the FTP server (RTT through the delay proxy)",
}

// modes are the tables the figures fill, in the order they first appear.
func modes(figures []figure) []string {
	var out []string
	for _, f := range figures {
		if !slices.Contains(out, f.mode) {
			out = append(out, f.mode)
		}
	}
	return out
}

// speed is how a figure compares with its base, higher being better: its
// ratio for rates, the inverse for times. Zero when it has no base.
func speed(f figure) float64 {
	switch {
	case f.ratio == 0:
		return 0
	case f.unit == "ms":
		return 1 / f.ratio
	}
	return f.ratio
}

// goal is one of issue 16's targets, for one figure.
type goal struct {
	target          string
	mode, what, who string
	minSpeed        float64 // the least speed that meets it; 0 when maxValue judges
	maxValue        float64 // the figure's value must stay under it
}

// goals are issue 16's targets.
var goals = func() []goal {
	var g []goal
	add := func(target, mode, what, who string, minSpeed float64) {
		g = append(g, goal{target: target, mode: mode, what: what, who: who, minSpeed: minSpeed})
	}
	add("at 20 ms, small-file first byte ≤ rclone's", "20 ms", "1 KiB file, time to first byte, warm pool", "ftpbridge", 1)
	add("at loopback, small-file req/s ≥ rclone's", "0 ms", "1 KiB GETs, concurrency 8", "ftpbridge", 1)
	for _, where := range []string{"", ", disk"} {
		add("download ≥ 0.95× direct curl", "0 ms", "1 GiB download"+where, "ftpbridge", 0.95)
		for _, who := range []string{"ftpbridge PUT", "ftpbridge multipart"} {
			add("upload ≥ 0.9× direct curl -T", "0 ms", "1 GiB upload"+where, who, 0.9)
		}
	}
	for _, mode := range []string{"0 ms", "20 ms"} {
		for _, who := range []string{"ftpbridge HTML", "ftpbridge JSON"} {
			add("10k listing ≤ 1.5× direct LIST", mode, "10,000-entry listing", who, 1/1.5)
		}
	}
	return append(g, goal{target: "peak RSS < 64 MiB", mode: "0 ms", what: "peak RSS, 4 GiB down + 4 GiB up at once", who: "ftpbridge", maxValue: 64})
}()

// goalOf is the goal that judges f, if any.
func goalOf(f figure) (goal, bool) {
	for _, g := range goals {
		if g.mode == f.mode && g.what == f.what && g.who == f.who {
			return g, true
		}
	}
	return goal{}, false
}

// holds says whether f meets g, and shows the figure as g judges it.
func (g goal) holds(f figure) (bool, string) {
	if g.maxValue > 0 {
		return f.value < g.maxValue, fmt.Sprintf("%.1f %s", f.value, f.unit)
	}
	return speed(f) >= g.minSpeed, fmt.Sprintf("%.2f× %s", f.ratio, f.base)
}

// targets checks the figures against the goals, as a Markdown table: each
// target, the figure it is judged by, and whether it holds. A measure not
// run gives no row.
func targets(figures []figure) string {
	var b strings.Builder
	b.WriteString("## Targets (issue 16), from this run\n\n| target | figure | holds |\n|---|---|---|\n")
	for _, g := range goals {
		for _, f := range figures {
			if f.mode != g.mode || f.what != g.what || f.who != g.who {
				continue
			}
			ok, shown := g.holds(f)
			verdict := "no"
			if ok {
				verdict = "yes"
			}
			fmt.Fprintf(&b, "| %s | %s: %s, %s: %s | %s |\n", g.target, f.mode, f.what, f.who, shown, verdict)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// table is one mode's figures as a Markdown table.
func table(figures []figure, mode string) string {
	var b strings.Builder
	b.WriteString("| measure | who | median | ratio |\n|---|---|---|---|\n")
	for _, f := range figures {
		if f.mode != mode {
			continue
		}
		ratio := ""
		if f.ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", f.ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f %s | %s |\n", f.what, f.who, f.value, f.unit, ratio)
	}
	return b.String()
}

// writeReport writes BENCHMARKS.md beside go.mod.
func writeReport(figures []figure) error {
	var b strings.Builder
	cpu := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Fprintf(&b, "# Benchmarks\n\nMade by `bash bench/run.sh` on %s: %d cores (%s), %s, vsftpd on loopback, directly and through a delay proxy that makes it %v away.\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), cpu, runtime.Version(), farRTT)
	b.WriteString("Each figure is the median of the runs after one unmeasured round, the contenders taking turns (see How it is measured). " +
		"Ratios are to the first row of each measure (direct FTP; rclone for the small-file rows): for rates, higher is better; for times (ms), lower is. " +
		"The machine CPU rows are every process's and the kernel's CPU time while each way ran, less what the same way costs moving an empty file, per GiB, with the ratio to direct curl's: a way that needs C CPU seconds per GiB cannot move a GiB in less than C / cores seconds.\n\n")
	for _, mode := range modes(figures) {
		fmt.Fprintf(&b, "## %s\n\n%s\n", modeTitles[mode], table(figures, mode))
	}
	b.WriteString("![Speed against direct FTP and rclone, at both round trips](BENCHMARKS.png)\n\n")
	b.WriteString(targets(figures))
	// What the figures came from, kept by hand beside this file.
	changes, err := os.ReadFile("changes.md")
	if err != nil {
		return fmt.Errorf("the report's hand-kept part: %w", err)
	}
	b.Write(changes)
	if err := os.WriteFile("../BENCHMARKS.md", []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
