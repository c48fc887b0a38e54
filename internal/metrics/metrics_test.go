package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// TestPoolConnectionLimit: the limit the pool holds for each FTP server,
// the configured one or one learned from refusals, is a gauge per host.
func TestPoolConnectionLimit(t *testing.T) {
	m := New()
	m.WatchPool(func() []HostStats {
		return []HostStats{
			{Host: "ftp.example.com:21", Open: 3, Idle: 1, Waiting: 5, Limit: 3},
			{Host: "other.example.com:21", Open: 1, Limit: 16},
		}
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`ftpbridge_pool_connection_limit{host="ftp.example.com:21"} 3`,
		`ftpbridge_pool_connection_limit{host="other.example.com:21"} 16`,
		`ftpbridge_pool_waiting_requests{host="ftp.example.com:21"} 5`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("no %q in the scrape:\n%s", want, body)
		}
	}
}

// TestTransferHooks: the hooks given to a tracker count transfers by final
// state, those still going, and bytes by direction.
func TestTransferHooks(t *testing.T) {
	m := New()
	tr := transfer.New(m.TransferHooks())
	defer tr.Close()
	up := tr.Begin(context.Background(), "o", "upload", "ftp://h", "/a")
	up.Start(-1, nil)
	up.Add(7)
	up.End(nil, nil)
	down := tr.Begin(context.Background(), "o", "download", "ftp://h", "/b")
	down.Start(100, nil)
	down.Add(40)
	defer down.End(nil, nil)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ftpbridge_transfers_total{op="upload",state="done"} 1`,
		`ftpbridge_transfers_active{op="upload"} 0`,
		`ftpbridge_transfers_active{op="download"} 1`,
		`ftpbridge_transfer_bytes_total{direction="up"} 7`,
		`ftpbridge_transfer_bytes_total{direction="down"} 40`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no %q in the scrape:\n%s", want, body)
		}
	}
}
