// Package metrics is the bridge's Prometheus view: transfers by operation
// and state, bytes moved by direction, the connection pool per FTP server,
// how long FTP operations take on the control connection, and refused
// logins. It only reads what the pool, the transfer tracker and the login
// gate already know, through their hooks; the pool's numbers come in a
// struct of its own (HostStats), so it needs nothing of the FTP side.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// Metrics holds the bridge's collectors.
type Metrics struct {
	reg           *prometheus.Registry
	transfers     *prometheus.CounterVec
	active        *prometheus.GaugeVec
	bytes         *prometheus.CounterVec
	ops           *prometheus.HistogramVec
	loginFailures prometheus.Counter
}

// New registers the collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpbridge_transfers_total", Help: "Transfers that ended, by operation and final state.",
		}, []string{"op", "state"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ftpbridge_transfers_active", Help: "Transfers queued or running, by operation.",
		}, []string{"op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ftpbridge_transfer_bytes_total", Help: "Bytes moved by transfers: down from FTP servers to clients, up from clients to FTP servers.",
		}, []string{"direction"}),
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ftpbridge_ftp_operation_seconds",
			Help:    "Time of the control-connection commands of one FTP operation (a LIST, an MLST, SIZE and MDTM, the start of a RETR).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5 ms to about 2 min
		}, []string{"result"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ftpbridge_ftp_login_failures_total", Help: "FTP logins the servers refused.",
		}),
	}
	m.reg.MustRegister(m.transfers, m.active, m.bytes, m.ops, m.loginFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// HostStats are one FTP server's connections, as the pool counts them.
type HostStats struct {
	Host    string // host:port
	Open    int    // logged in or logging in
	Idle    int    // open and free
	Waiting int    // requests waiting for a free slot
	Limit   int    // the most the pool opens to this server now
}

// WatchPool adds the connection pool's numbers, read at each scrape.
func (m *Metrics) WatchPool(read func() []HostStats) {
	m.reg.MustRegister(poolCollector(read))
}

// Handler serves the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// TransferHooks are for transfer.New.
func (m *Metrics) TransferHooks() transfer.Hooks {
	// Looked up once: Bytes runs for every chunk a transfer moves.
	up, down := m.bytes.WithLabelValues("up"), m.bytes.WithLabelValues("down")
	return transfer.Hooks{
		Start: func(op string) { m.active.WithLabelValues(op).Inc() },
		Bytes: func(op string, n int64) {
			if op == "upload" {
				up.Add(float64(n))
			} else {
				down.Add(float64(n))
			}
		},
		End: func(op string, s transfer.State) {
			m.active.WithLabelValues(op).Dec()
			m.transfers.WithLabelValues(op, string(s)).Inc()
		},
	}
}

// ObserveOp is for ftppool.Config.ObserveOp.
func (m *Metrics) ObserveOp(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.ops.WithLabelValues(result).Observe(d.Seconds())
}

// LoginRefused is for the login gate's OnRefused.
func (m *Metrics) LoginRefused() { m.loginFailures.Inc() }

// poolStats reads the pool at each scrape.
type poolStats struct {
	read                          func() []HostStats
	open, busy, idle, wait, limit *prometheus.Desc
}

func poolCollector(read func() []HostStats) prometheus.Collector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ftpbridge_pool_"+name, help, []string{"host"}, nil)
	}
	return &poolStats{
		read: read,
		open: desc("open_connections", "FTP control connections open, per FTP server."),
		busy: desc("busy_connections", "FTP control connections serving an operation, per FTP server."),
		idle: desc("idle_connections", "FTP control connections open and free, per FTP server."),
		wait: desc("waiting_requests", "Requests waiting for a free connection slot, per FTP server."),
		limit: desc("connection_limit", "Most FTP control connections the bridge opens to an FTP server: -max-conns-per-host, "+
			"or fewer where the server refused more (its limit per client address, learned; it rises by one after each minute without a refusal)."),
	}
}

func (p *poolStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.open
	ch <- p.busy
	ch <- p.idle
	ch <- p.wait
	ch <- p.limit
}

func (p *poolStats) Collect(ch chan<- prometheus.Metric) {
	for _, h := range p.read() {
		ch <- prometheus.MustNewConstMetric(p.open, prometheus.GaugeValue, float64(h.Open), h.Host)
		ch <- prometheus.MustNewConstMetric(p.busy, prometheus.GaugeValue, float64(h.Open-h.Idle), h.Host)
		ch <- prometheus.MustNewConstMetric(p.idle, prometheus.GaugeValue, float64(h.Idle), h.Host)
		ch <- prometheus.MustNewConstMetric(p.wait, prometheus.GaugeValue, float64(h.Waiting), h.Host)
		ch <- prometheus.MustNewConstMetric(p.limit, prometheus.GaugeValue, float64(h.Limit), h.Host)
	}
}
