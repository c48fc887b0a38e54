package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
)

// loginAs asks for the root listing of the server at host:port as
// testftp.User with password, as the client whose address a trusted proxy
// put in X-Forwarded-For.
func loginAs(t *testing.T, b *bridge, host, port, password, client string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/ftp/"+testftp.User+"@"+net.JoinHostPort(host, port)+"/", nil)
	req.SetBasicAuth(testftp.User, password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", client)
	resp, body := doReq(t, http.DefaultClient, req)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
		t.Logf("%s: %d %.200s", host, resp.StatusCode, body)
	}
	return resp.StatusCode
}

// passes counts the PASS commands the server heard.
func passes(srv *testftp.Server) int {
	n := 0
	for _, c := range srv.Commands() {
		if strings.HasPrefix(strings.ToUpper(c), "PASS") {
			n++
		}
	}
	return n
}

// TestLoginLimitsShareEverySpelling: the five tries of a client for a
// user are the server's, whatever the address is spelt as (127.1,
// 2130706433, 0x7f000001, 0177.0.0.1, a trailing dot, a name): each
// spelling used to bring five more. Then one client's failures do not
// lock the user out: other clients guessing are slowed (each try waits
// longer than the one before) but not refused, and the user with the
// right password gets in.
func TestLoginLimitsShareEverySpelling(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	b := startBridge(t, "-allow-hosts", "127.0.0.1", "-trusted-proxies", "127.0.0.1")
	_, port, _ := net.SplitHostPort(srv.Addr())

	// Two rounds over every spelling, as one client. Spellings the bridge
	// cannot dial (502) never reach the server and cost nothing; those it
	// dials share one count of five.
	spellings := []string{"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1.", "localhost", "localhost."}
	answers := map[string][]int{}
	var dialled []string
	refusals := 0
	for round := range 2 {
		for _, h := range spellings {
			status := loginAs(t, b, h, port, "wrong", "198.51.100.1")
			answers[h] = append(answers[h], status)
			switch status {
			case http.StatusUnauthorized:
				refusals++
				if refusals > 5 {
					t.Errorf("%s: the server refused try %d of one client for one user; want it limited after 5", h, refusals)
				}
			case http.StatusTooManyRequests:
				if refusals < 5 {
					t.Errorf("%s: limited after %d tries, want 5", h, refusals)
				}
			default:
				continue
			}
			if round == 0 {
				dialled = append(dialled, h)
			}
		}
	}
	t.Logf("answers per spelling: %v", answers)
	if len(dialled) < 3 || refusals != 5 || passes(srv) != 5 {
		t.Errorf("spellings dialled %v: %d tries refused by the server (%d PASS), want 5 over three spellings or more", dialled, refusals, passes(srv))
	}

	// Other clients guessing the same user are slowed, never refused.
	var waits []time.Duration
	for _, client := range []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13"} {
		start := time.Now()
		if status := loginAs(t, b, dialled[len(waits)%len(dialled)], port, "wrong", client); status != http.StatusUnauthorized {
			t.Errorf("client %s's first guess: %d, want 401 (slowed, never refused)", client, status)
		}
		waits = append(waits, time.Since(start))
	}
	t.Logf("the other clients' guesses took %v", waits)
	if waits[3] < time.Second || waits[3] < waits[1] {
		t.Errorf("guesses by other clients took %v, want each one waiting longer, the fourth over a second", waits)
	}
	// The user, from another address, with the right password.
	start := time.Now()
	if status := loginAs(t, b, dialled[0], port, testftp.Password, "198.51.100.99"); status != http.StatusOK {
		t.Errorf("the right password from another client after the guesses: %d, want 200", status)
	}
	t.Logf("the right password got in after %v", time.Since(start))
}
