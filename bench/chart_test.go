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
	chartWidth = 960
	labelWidth = 330 // the measure and contender names
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

// speed is a figure's speed against direct FTP, higher being better: its
// ratio for rates, the inverse for times. Zero when it has no direct
// figure to compare with.
func speed(f figure) float64 {
	switch {
	case f.ratio == 0 || strings.Contains(f.what, "GETs"): // those compare with rclone
		return 0
	case f.unit == "ms":
		return 1 / f.ratio
	}
	return f.ratio
}

// chart draws the speed of every contender against direct FTP as
// horizontal bars, with a line at direct (1.0) and one at the target
// (0.9 for transfers; 0.5 for the listing's "within 2x").
func chart(figures []figure) *image.RGBA {
	var rows []figure
	for _, f := range figures {
		if speed(f) > 0 {
			rows = append(rows, f)
		}
	}
	scale := 1.2
	for _, f := range rows {
		scale = max(scale, speed(f)*1.05)
	}
	x := func(s float64) int { return barLeft + int(s/scale*barSpan) }

	height := chartTop + len(rows)*rowHeight + chartFoot
	img := image.NewRGBA(image.Rect(0, 0, chartWidth, height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	text(img, 10, 16, color.Black, "Speed against direct FTP (curl, vsftpd on loopback): median of the runs, higher is better")
	text(img, 10, 32, colorTarget, "red ticks: the targets (0.9x for transfers; the listing within 2x the time)")

	vline(img, x(1), chartTop-4, height-chartFoot+4, color.Black)
	text(img, x(1)-12, height-chartFoot+18, color.Black, "1.0x")
	for i, f := range rows {
		top := chartTop + i*rowHeight
		text(img, 10, top+barHeight-3, color.Black, fmt.Sprintf("%s: %s", f.what, f.who))
		c := colorOther
		switch {
		case strings.HasPrefix(f.who, "direct"):
			c = colorDirect
		case strings.HasPrefix(f.who, "ftpbridge"):
			c = colorBridge
		}
		// The target first, so that a bar that reaches it covers it.
		target := 0.9
		if f.unit == "ms" {
			target = 0.5
		}
		vline(img, x(target), top-2, top+barHeight+2, colorTarget)
		end := x(speed(f))
		draw.Draw(img, image.Rect(barLeft, top, end, top+barHeight), image.NewUniform(c), image.Point{}, draw.Src)
		text(img, end+4, top+barHeight-3, color.Black, fmt.Sprintf("%.2fx", speed(f)))
	}
	return img
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
// bar as long as direct's reaches the 1.0 line, a listing twice as slow
// reaches half of it, and rows without a direct figure are left out.
func TestChartBarsAreToScale(t *testing.T) {
	figures := []figure{
		{what: "1 GiB download", who: "direct curl ftp://", value: 2000, unit: "MB/s", ratio: 1},
		{what: "1 GiB download", who: "ftpbridge", value: 1000, unit: "MB/s", ratio: 0.5},
		{what: "10,000-entry listing", who: "direct curl LIST", value: 100, unit: "ms", ratio: 1},
		{what: "10,000-entry listing", who: "ftpbridge HTML", value: 200, unit: "ms", ratio: 2},
		{what: "1 KiB GETs, concurrency 8", who: "ftpbridge", value: 900, unit: "req/s", ratio: 2},
		{what: "peak RSS", who: "ftpbridge", value: 30, unit: "MiB"},
	}
	img := chart(figures)
	if rows := (img.Bounds().Dy() - chartTop - chartFoot) / rowHeight; rows != 4 {
		t.Fatalf("%d rows, want 4 (the GETs compare with rclone, RSS with nothing)", rows)
	}
	scale := 1.2
	want := []struct {
		speed float64
		c     color.RGBA
	}{{1, colorDirect}, {0.5, colorBridge}, {1, colorDirect}, {0.5, colorBridge}}
	for i, w := range want {
		y := chartTop + i*rowHeight + barHeight/2
		end := barLeft + int(w.speed/scale*barSpan)
		if got := img.RGBAAt(end-1, y); got != w.c {
			t.Errorf("row %d: pixel before the bar's end is %v, want %v", i, got, w.c)
		}
		if got := img.RGBAAt(end+1, y); got == w.c {
			t.Errorf("row %d: the bar goes past %.2fx", i, w.speed)
		}
	}
}

// TestTargetsVerdicts: each target is judged by its own figure, on the
// right side of its bound, and a measure not run gives no row.
func TestTargetsVerdicts(t *testing.T) {
	got := targets([]figure{
		{what: "1 GiB download", who: "ftpbridge", ratio: 0.95},
		{what: "1 GiB upload", who: "ftpbridge PUT", ratio: 0.89},
		{what: "10,000-entry listing", who: "ftpbridge HTML", ratio: 2.5},
		{what: "peak RSS, 4 GiB down + 4 GiB up at once", who: "ftpbridge", value: 30},
	})
	for _, want := range []string{
		"| download ≥ 0.9× direct curl | 1 GiB download, ftpbridge: 0.95× | yes |",
		"| upload ≥ 0.9× direct curl -T | 1 GiB upload, ftpbridge PUT: 0.89× | no |",
		"| 10,000-entry HTML listing within 2× direct LIST | 10,000-entry listing, ftpbridge HTML: 2.50× | no |",
		"| peak RSS < 64 MiB | peak RSS, 4 GiB down + 4 GiB up at once, ftpbridge: 30.0 MiB | yes |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("targets lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "multipart") || strings.Contains(got, "GETs") {
		t.Errorf("rows for measures that did not run:\n%s", got)
	}
}
