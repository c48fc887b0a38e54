package main

import (
	"bytes"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
)

// TestBrowserScreenshots takes the README's screenshots in Chromium, from
// the demo's sample files: the home page, a listing, the transfers panel
// after an upload, a file link's page and the phone view. Each step checks
// that the page shows what its picture is of. With
// FTPBRIDGE_UPDATE_SCREENSHOTS=1 they are written to docs/screenshots/, so
// the README's pictures are of the pages as they are.
func TestBrowserScreenshots(t *testing.T) {
	root := t.TempDir()
	if err := embedftp.WriteSampleTree(root); err != nil {
		t.Fatal(err)
	}
	srv, err := embedftp.Start(embedftp.Options{Root: root, Anonymous: true, AnonymousWritable: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	problems := &pageProblems{notify: make(chan struct{}, 1)}
	tab := startBrowser(t, browserTimeout, problems)
	site := b.URL + "/ftp/" + srv.Addr() + "/"
	update := os.Getenv("FTPBRIDGE_UPDATE_SCREENSHOTS") == "1"

	// shot takes the viewport once ready holds, and checks the picture
	// is of the viewport's size.
	shot := func(t *testing.T, name, ready string, w, h int) {
		t.Helper()
		ctx := browserStep(t, tab)
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](ready)); err != nil {
			t.Fatalf("%s: waiting for %s: %v", name, ready, err)
		}
		buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("%s: taking the picture: %v", name, err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := img.Bounds().Size(); got.X != w || got.Y != h {
			t.Errorf("%s: a %dx%d picture, want %dx%d", name, got.X, got.Y, w, h)
		}
		if update {
			if err := os.WriteFile(filepath.Join("docs", "screenshots", name+".png"), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	ctx := browserStep(t, tab)
	setViewport(t, ctx, 1280, 800, false)
	// Somewhere with a zone to name in the pictures' times.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Paris"}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(srv.Addr())
	if err := chromedp.Do(ctx, chromedp.Navigate(b.URL+"/")); err != nil {
		t.Fatal(err)
	}
	shot(t, "home", `!!document.getElementById("connect-form")`, 1280, 800)

	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
		chromedp.SendKeys(chromedp.ID("host"), host),
		chromedp.SendKeys(chromedp.ID("port"), port),
		chromedp.Click(chromedp.ID("anonymous")),
	); err != nil {
		t.Fatalf("filling the connect form: %v", err)
	}
	clickAndLoad(t, ctx, chromedp.ID("connect"), site)
	shot(t, "listing", `document.querySelectorAll("#listing tbody tr[data-name]").length >= 5`, 1280, 800)

	src := filepath.Join(t.TempDir(), "holiday photos.zip")
	if err := os.WriteFile(src, bytes.Repeat([]byte("ftpbridge "), 300_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(site+"uploads/"),
		chromedp.WaitReady(chromedp.ID("upload-files")),
		chromedp.SetUploadFiles(chromedp.ID("upload-files"), []string{src}),
	); err != nil {
		t.Fatalf("uploading a file: %v", err)
	}
	shot(t, "transfers", `!document.getElementById("transfers").hidden && !!document.querySelector('#listing tr[data-name="holiday photos.zip"]')`, 1280, 800)

	// The recipient's page of a file link.
	if err := chromedp.Do(ctx, chromedp.Navigate(site)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(shareFromMenu(t, ctx, "README.txt", "", ""))); err != nil {
		t.Fatal(err)
	}
	shot(t, "share", `!!document.getElementById("shared-download")`, 1280, 800)

	setViewport(t, ctx, 390, 844, true)
	if err := chromedp.Do(ctx, chromedp.Navigate(site)); err != nil {
		t.Fatal(err)
	}
	shot(t, "phone", `document.querySelectorAll("#listing tbody tr[data-name]").length >= 5`, 390*3, 844*3)
	for _, p := range problems.take() {
		if !strings.Contains(p, "favicon") {
			t.Error(p)
		}
	}
}
