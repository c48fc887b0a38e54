package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
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
