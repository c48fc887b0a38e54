package main

import (
	"bytes"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/realftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestBrowserLoginFolder: in Chromium, a person connects with the form to
// a vsftpd that does not chroot its users and names windows-1251 as the
// name encoding. The page opens in her login folder, shows the Cyrillic
// name, says the absolute path with home marked, and the crumb above home
// leads to that folder in its absolute (%2F) address.
func TestBrowserLoginFolder(t *testing.T) {
	root := t.TempDir()
	testftp.Tree(t, root)
	// The folder above home is readable, as /home is: the test's temporary
	// folder is not (vsftpd would list an unreadable folder as itself).
	if err := os.Chmod(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "\xce\xf2\xf7\xe5\xf2.txt"), []byte("report\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := realftp.StartVsftpd(t, realftp.Options{Root: root, NonChroot: true})
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	problems := &pageProblems{notify: make(chan struct{}, 1)}
	ctx := browserStep(t, startBrowser(t, browserTimeout, problems))

	host, port, _ := net.SplitHostPort(srv.Addr)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(b.URL+"/"),
		chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
		chromedp.SendKeys(chromedp.ID("host"), host),
		chromedp.SendKeys(chromedp.ID("port"), port),
		chromedp.SendKeys(chromedp.ID("user"), srv.User),
		chromedp.SendKeys(chromedp.ID("password"), srv.Password),
		chromedp.SetValue(chromedp.ID("encoding"), "windows-1251"),
	); err != nil {
		t.Fatalf("filling the connect form: %v", err)
	}
	site := b.URL + "/ftp/" + srv.User + "@" + srv.Addr + "/"
	clickAndLoad(t, ctx, chromedp.ID("connect"), site)
	requireRows(t, ctx, "Отчет.txt", "sub", "big.bin")

	crumbs, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("nav.crumbs")))
	if err != nil {
		t.Fatal(err)
	}
	want := srv.Home + "(home)/"
	if compact := strings.Join(strings.Fields(crumbs), ""); !strings.HasSuffix(compact, want) {
		t.Errorf("breadcrumbs %q, want the absolute path ending %q", compact, want)
	}
	above := path.Dir(srv.Home)
	clickAndLoad(t, ctx, chromedp.CSS("nav.crumbs a:nth-last-of-type(2)"), site+"%2F"+strings.TrimPrefix(above, "/")+"/")
	requireRows(t, ctx, path.Base(srv.Home))
	if p := problems.take(); len(p) > 0 {
		t.Errorf("script errors or CSP violations: %q", p)
	}
}

// TestBrowserActiveMode: in Chromium, a person connects with the form to
// a vsftpd that refuses passive mode, once choosing active mode and once
// leaving the mode automatic; both times the folder lists and its file
// downloads by a click.
func TestBrowserActiveMode(t *testing.T) {
	srv, content := activeOnlyVsftpd(t, realftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-active-ports", activePortsArg(t))
	host, port, _ := net.SplitHostPort(srv.Addr)
	for _, mode := range []string{"active", "auto"} {
		t.Run(mode, func(t *testing.T) {
			problems := &pageProblems{notify: make(chan struct{}, 1)}
			ctx := browserStep(t, startBrowser(t, browserTimeout, problems))
			downloads := watchDownloads(t, ctx)
			if err := chromedp.Do(ctx,
				chromedp.Navigate(b.URL+"/"),
				chromedp.SetValue(chromedp.ID("scheme"), "ftp"),
				chromedp.SendKeys(chromedp.ID("host"), host),
				chromedp.SendKeys(chromedp.ID("port"), port),
				chromedp.SendKeys(chromedp.ID("user"), srv.User),
				chromedp.SendKeys(chromedp.ID("password"), srv.Password),
				chromedp.SetValue(chromedp.ID("mode"), mode),
			); err != nil {
				t.Fatalf("filling the connect form: %v", err)
			}
			clickAndLoad(t, ctx, chromedp.ID("connect"), b.URL+"/ftp/"+srv.User+"@"+srv.Addr+"/")
			requireRows(t, ctx, "data.bin")
			if err := chromedp.Do(ctx, chromedp.Click(rowLink("data.bin"))); err != nil {
				t.Fatal(err)
			}
			if _, got := downloads.next(t, ctx, "data.bin"); !bytes.Equal(got, content) {
				t.Errorf("the download has %d bytes, want the file's %d, identical", len(got), len(content))
			}
			if p := problems.take(); len(p) > 0 {
				t.Errorf("script errors or CSP violations: %q", p)
			}
		})
	}
}
