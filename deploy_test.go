package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

// TestDeployHAProxyConfig runs deploy/haproxy.cfg itself, with only its
// addresses and certificate folder changed, in front of a bridge: plain
// HTTP is sent to HTTPS, HTTPS reaches the bridge with HSTS, the bridge
// believes HAProxy that the request came over HTTPS (its cookie is Secure),
// and /readyz is for the health checks only.
func TestDeployHAProxyConfig(t *testing.T) {
	cfg, err := os.ReadFile("deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	srv, b := startFTP(t, embedftp.Options{}, "-trusted-proxies", "127.0.0.1", "-hosts", "files.example.com,127.0.0.1")
	caFile, certFile, keyFile, _ := testCAFiles(t)
	certs := t.TempDir()
	var pemData []byte
	for _, f := range []string{certFile, keyFile} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pemData = append(pemData, data...)
	}
	if err := os.WriteFile(filepath.Join(certs, "site.pem"), pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	ports := servicetest.NewPorts(t)
	https := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Take(t)))
	plain := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.Take(t)))
	bridgeAddr := strings.TrimPrefix(b.URL, "http://")
	text := string(cfg)
	for old, repl := range map[string]string{
		"bind :8443 ":            "bind " + https + " ",
		"bind :8080\n":           "bind " + plain + "\n",
		"/etc/haproxy/certs/":    certs + "/",
		"log stdout format raw ": "log stderr format raw ",
	} {
		if !strings.Contains(text, old) {
			t.Fatalf("deploy/haproxy.cfg has no %q any more: update this test", old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	text = regexp.MustCompile(`bridge-[abc]:8080`).ReplaceAllString(text, bridgeAddr)
	servicetest.HAProxy(t, https, text)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get("http://" + plain + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Errorf("plain HTTP: %d to %q, want 308 to https", resp.StatusCode, resp.Header.Get("Location"))
	}

	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := newJarClient(t)
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	base := "https://" + https
	host, port, _ := net.SplitHostPort(srv.Addr())
	resp = postForm(t, client, base+"/connect", url.Values{"scheme": {"ftp"}, "host": {host}, "port": {port},
		"user": {testftp.User}, "password": {testftp.Password}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("connect over HTTPS through HAProxy: %d", resp.StatusCode)
	}
	if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Errorf("no HSTS header through HAProxy: %q", resp.Header.Get("Strict-Transport-Security"))
	}
	if resp, _ := get(t, client, base+"/readyz"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/readyz from outside through HAProxy: %d, want 404", resp.StatusCode)
	}
	var secure bool
	for _, c := range resp.Request.Response.Cookies() {
		secure = secure || c.Name == "ftpbridge" && c.Secure
	}
	if !secure {
		t.Errorf("the session cookie over HTTPS through HAProxy is not Secure: %v", resp.Request.Response.Header.Values("Set-Cookie"))
	}
}

// TestDeployComposeNamesRealFlags: every FTPBRIDGE_ variable the compose
// file sets is a flag of this bridge with a value it accepts, so the file
// cannot drift from the flags unnoticed.
func TestDeployComposeNamesRealFlags(t *testing.T) {
	compose, err := os.ReadFile("deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var usage bytes.Buffer
	if _, err := parseFlags([]string{"ftpbridge", "-h"}, func(string) string { return "" }, &usage); err == nil {
		t.Fatal("-h did not stop flag parsing")
	}
	vars := regexp.MustCompile(`(?m)^\s+(FTPBRIDGE_[A-Z_]+):\s*(.*)$`).FindAllStringSubmatch(string(compose), -1)
	if len(vars) < 5 {
		t.Fatalf("found only %d FTPBRIDGE_ variables in deploy/compose.yaml", len(vars))
	}
	env := map[string]string{}
	for _, v := range vars {
		flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(v[1], "FTPBRIDGE_"), "_", "-"))
		if !strings.Contains(usage.String(), "  -"+flagName+" ") && !strings.Contains(usage.String(), "  -"+flagName+"\n") {
			t.Errorf("deploy/compose.yaml sets %s, but the bridge has no -%s", v[1], flagName)
		}
		env[v[1]] = strings.Trim(v[2], `"`)
	}
	if _, err := parseFlags([]string{"ftpbridge"}, func(k string) string { return env[k] }, &usage); err != nil {
		t.Errorf("the compose file's values: %v", err)
	}
}
