package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The chart's geometry, in pixels.
const (
	chartWidth = 1100
	labelWidth = 490 // the measure and contender names, 70 characters
	barLeft    = labelWidth + 10
	barSpan    = chartWidth - barLeft - 70 // leaves room for the figure
	rowHeight  = 20
	barHeight  = 14
	chartTop   = 40
	chartFoot  = 30
)

var (
	colorDirect = color.RGBA{0x9e, 0x9e, 0x9e, 0xff}
	colorBridge = color.RGBA{0x1f, 0x6f, 0xd1, 0xff}
	colorOther  = color.RGBA{0xe0, 0x8a, 0x1e, 0xff}
	colorTarget = color.RGBA{0xc6, 0x28, 0x28, 0xff}
)

// chartRow is a line of the chart: a panel's title, or a figure's bar.
type chartRow struct {
	title string
	f     figure
}

// chart draws, for each mode, every figure that has a base as a horizontal
// bar of its speed against that base (direct FTP, or rclone for the
// small-file rows), with a line at 1.0 and a red tick at the figure's
// target where it has one.
func chart(figures []figure) *image.RGBA {
	var rows []chartRow
	scale := 1.2
	for _, mode := range modes(figures) {
		rows = append(rows, chartRow{title: modeTitles[mode]})
		for _, f := range figures {
			if f.mode == mode && speed(f) > 0 {
				rows = append(rows, chartRow{f: f})
				scale = max(scale, speed(f)*1.05)
			}
		}
	}
	x := func(s float64) int { return barLeft + int(s/scale*barSpan) }

	height := chartTop + len(rows)*rowHeight + chartFoot
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 10, 16, color.Black, "Speed against direct FTP (rclone for small files), median of the runs; higher is better")
	text(img, 10, 32, colorTarget, "red ticks: issue 16's targets")

	vline(img, x(1), chartTop-4, height-chartFoot+4, color.Black)
	text(img, x(1)-12, height-chartFoot+18, color.Black, "1.0x")
	for i, r := range rows {
		top := chartTop + i*rowHeight
		if r.title != "" {
			text(img, 10, top+barHeight-3, color.Black, r.title+":")
			continue
		}
		f := r.f
		text(img, 10, top+barHeight-3, color.Black, fmt.Sprintf("%s: %s", shorten(f.what), f.who))
		c := colorOther
		switch {
		case f.who == f.base:
			c = colorDirect
		case strings.HasPrefix(f.who, "ftpbridge"):
			c = colorBridge
		}
		// The target first, so that a bar that reaches it covers it.
		if g, ok := goalOf(f); ok && g.minSpeed > 0 {
			vline(img, x(g.minSpeed), top-2, top+barHeight+2, colorTarget)
		}
		end := x(speed(f))
		draw.Draw(img, image.Rect(barLeft, top, end, top+barHeight), image.NewUniform(c), image.Point{}, draw.Src)
		text(img, end+4, top+barHeight-3, color.Black, fmt.Sprintf("%.2fx", speed(f)))
	}
	return img
}

// shorten fits a measure's name into the chart's label column.
func shorten(what string) string {
	return strings.NewReplacer("1 KiB file, time to first byte", "1 KiB first byte", "first visit of a folder", "new folder",
		"10,000-entry listing", "10k listing").Replace(what)
}

func text(img draw.Image, x, y int, c color.Color, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func vline(img *image.RGBA, x, y0, y1 int, c color.Color) {
	for y := y0; y < y1; y++ {
		img.Set(x, y, c)
	}
}

// writeChart writes the chart as a PNG.
func writeChart(path string, figures []figure) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, chart(figures)); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return f.Close()
}

// TestChartBarsAreToScale: each bar ends where its speed puts it, so a
// bar as long as its base's reaches the 1.0 line and a listing twice as
// slow reaches half of it; each mode has a panel with a title row, and
// rows without a base are left out.
func TestChartBarsAreToScale(t *testing.T) {
	figures := []figure{
		{mode: "0 ms", what: "1 GiB download", who: "direct curl ftp://", value: 2000, unit: "MB/s", ratio: 1, base: "direct curl ftp://"},
		{mode: "0 ms", what: "1 GiB download", who: "ftpbridge", value: 1000, unit: "MB/s", ratio: 0.5, base: "direct curl ftp://"},
		{mode: "0 ms", what: "peak RSS", who: "ftpbridge", value: 30, unit: "MiB"},
		{mode: "20 ms", what: "10,000-entry listing", who: "direct curl LIST", value: 100, unit: "ms", ratio: 1, base: "direct curl LIST"},
		{mode: "20 ms", what: "10,000-entry listing", who: "ftpbridge HTML", value: 200, unit: "ms", ratio: 2, base: "direct curl LIST"},
	}
	img := chart(figures)
	if rows := (img.Bounds().Dy() - chartTop - chartFoot) / rowHeight; rows != 6 {
		t.Fatalf("%d rows, want 6 (two titles, four bars: RSS has no base)", rows)
	}
	scale := 1.2
	want := []struct {
		row   int
		speed float64
		c     color.RGBA
	}{{1, 1, colorDirect}, {2, 0.5, colorBridge}, {4, 1, colorDirect}, {5, 0.5, colorBridge}}
	for _, w := range want {
		y := chartTop + w.row*rowHeight + barHeight/2
		end := barLeft + int(w.speed/scale*barSpan)
		if got := img.RGBAAt(end-1, y); got != w.c {
			t.Errorf("row %d: pixel before the bar's end is %v, want %v", w.row, got, w.c)
		}
		if got := img.RGBAAt(end+1, y); got == w.c {
			t.Errorf("row %d: the bar goes past %.2fx", w.row, w.speed)
		}
	}
}

// TestTargetsVerdicts: each target is judged by its own figure, in its own
// mode, on the right side of its bound, and a measure not run gives no
// row.
func TestTargetsVerdicts(t *testing.T) {
	got := targets([]figure{
		{mode: "0 ms", what: "1 GiB download", who: "ftpbridge", ratio: 0.96, base: "direct curl ftp://"},
		{mode: "0 ms", what: "1 GiB upload", who: "ftpbridge PUT", ratio: 0.89, base: "direct curl -T ftp://"},
		{mode: "20 ms", what: "10,000-entry listing", who: "ftpbridge HTML", unit: "ms", ratio: 1.6, base: "direct curl LIST"},
		{mode: "0 ms", what: "10,000-entry listing", who: "ftpbridge JSON", unit: "ms", ratio: 1.4, base: "direct curl LIST"},
		{mode: "20 ms", what: "1 KiB file, time to first byte, warm pool", who: "ftpbridge", unit: "ms", ratio: 0.9, base: "rclone serve http"},
		{mode: "0 ms", what: "1 KiB file, time to first byte, warm pool", who: "ftpbridge", unit: "ms", ratio: 2, base: "rclone serve http"},
		{mode: "0 ms", what: "peak RSS, 4 GiB down + 4 GiB up at once", who: "ftpbridge", value: 30, unit: "MiB"},
	})
	for _, want := range []string{
		"| download ≥ 0.95× direct curl | 0 ms: 1 GiB download, ftpbridge: 0.96× direct curl ftp:// | yes |",
		"| upload ≥ 0.9× direct curl -T | 0 ms: 1 GiB upload, ftpbridge PUT: 0.89× direct curl -T ftp:// | no |",
		"| 10k listing ≤ 1.5× direct LIST | 20 ms: 10,000-entry listing, ftpbridge HTML: 1.60× direct curl LIST | no |",
		"| 10k listing ≤ 1.5× direct LIST | 0 ms: 10,000-entry listing, ftpbridge JSON: 1.40× direct curl LIST | yes |",
		"| at 20 ms, small-file first byte ≤ rclone's | 20 ms: 1 KiB file, time to first byte, warm pool, ftpbridge: 0.90× rclone serve http | yes |",
		"| peak RSS < 64 MiB | 0 ms: peak RSS, 4 GiB down + 4 GiB up at once, ftpbridge: 30.0 MiB | yes |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "multipart") || strings.Contains(got, "GETs") || strings.Count(got, "time to first byte") != 1 {
		t.Errorf("rows for measures that did not run, or in another mode:\n%s", got)
	}
}
