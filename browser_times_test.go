package main

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// TestBrowserTimes: in a browser in Tokyo, the listing's times, the
// Shared links page and the share dialog's expiry read in Tokyo time with
// the zone named (GMT+9), with UTC as the title; without the script the
// pages say UTC.
func TestBrowserTimes(t *testing.T) {
	bt, tab := newBrowserTest(t, embedftp.Options{})
	srv, b := bt.srv, bt.b
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatalf("no time zone data: %v", err)
	}
	ctx := browserStep(t, tab)
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatalf("putting the browser in Tokyo: %v", err)
	}

	// Without the script: UTC, said so.
	_, page := get(t, aliceClient(), siteURL(b, "ftp", testftp.User, srv, "/", true), "Accept", "text/html")
	if !regexp.MustCompile(`<time datetime="[^"]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>`).Match(page) {
		t.Errorf("the listing's HTML has no time labelled UTC:\n%.2000s", page)
	}

	// zoned checks every <time> the selector finds: its text is its
	// datetime in Tokyo with the zone named, its title the same in UTC.
	zoned := func(t *testing.T, where, sel string) {
		t.Helper()
		times, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct{ DateTime, Text, Title string }](
			`[...document.querySelectorAll(`+strconv.Quote(sel)+`)].map(e => ({DateTime: e.dateTime, Text: e.textContent, Title: e.title}))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(times) == 0 {
			t.Fatalf("%s: no <time> at %s", where, sel)
		}
		for _, tm := range times {
			at, err := time.Parse(time.RFC3339, tm.DateTime)
			if err != nil {
				t.Fatalf("%s: datetime %q: %v", where, tm.DateTime, err)
			}
			if want := at.In(tokyo).Format("2006-01-02 15:04") + " GMT+9"; tm.Text != want {
				t.Errorf("%s: %q reads %q, want %q", where, tm.DateTime, tm.Text, want)
			}
			if want := at.UTC().Format("2006-01-02 15:04") + " UTC"; tm.Title != want {
				t.Errorf("%s: %q has the title %q, want %q", where, tm.DateTime, tm.Title, want)
			}
		}
	}

	bt.connect(t, ctx)
	zoned(t, "the listing", "#listing td.date time")

	// The share dialog's expiry, then the Shared links page.
	shareFromMenu(t, ctx, "big.bin", "24h", "")
	expiry, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("share-expiry")))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`Works until \d{4}-\d\d-\d\d \d\d:\d\d GMT\+9\.`).MatchString(expiry) {
		t.Errorf("the share dialog says %q, want the expiry in Tokyo time, zone named", expiry)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(b.URL+"/shares"), chromedp.WaitVisible(chromedp.ID("shares"))); err != nil {
		t.Fatal(err)
	}
	zoned(t, "the Shared links page", "#shares time")
	bt.checkProblems(t, ctx)
}
