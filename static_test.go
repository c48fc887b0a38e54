package main

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/static"
	"github.com/ftpbridge/ftpbridge/templates"
)

// TestStaticFilesVersioned: pages load their script and styles from this
// build's versioned folder, cached for good, and announce every module so
// that the browser fetches them at once; another build's version gets
// today's files, not to be cached.
func TestStaticFilesVersioned(t *testing.T) {
	b := startBridge(t, "-allow-hosts", "127.0.0.1")
	_, page := doReq(t, http.DefaultClient, mustRequest(http.MethodGet, b.URL+"/"))

	entry := templates.Asset("js/main.js")
	if !strings.Contains(string(page), `<script type="module" src="`+entry+`">`) {
		t.Fatalf("the home page does not load %s:\n%s", entry, page)
	}
	preloaded := regexp.MustCompile(`<link rel="modulepreload" href="([^"]+)">`).FindAllStringSubmatch(string(page), -1)
	var got []string
	for _, m := range preloaded {
		got = append(got, m[1])
	}
	var want []string
	for _, m := range static.Modules() {
		want = append(want, templates.Asset(m))
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("modulepreload links %q, want every module but main.js: %q", got, want)
	}

	for _, tc := range []struct {
		path, cache string
	}{
		{entry, "public, max-age=31536000, immutable"},
		{templates.Asset("style.css"), "public, max-age=31536000, immutable"},
		{"/static/v/0123456789ab/js/main.js", "no-cache"},
	} {
		resp, body := doReq(t, http.DefaultClient, mustRequest(http.MethodGet, b.URL+tc.path))
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", tc.path, resp.StatusCode, len(body))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != tc.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", tc.path, cc, tc.cache)
		}
	}
}
