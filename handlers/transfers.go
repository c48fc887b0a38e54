package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// tracked is a request whose transfer can be cancelled from the transfers
// panel: its context ends with transfer.ErrCanceled, and any blocked read
// of the request body or write of the response returns at once.
type tracked struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	d      *Deps
	owner  string
	op     string
	site   string
	path   string
}

func (d *Deps) tracked(c echo.Context, op string, t *access.Target, p string) *tracked {
	r := c.Request()
	ctx, cancel := context.WithCancelCause(r.Context())
	owner := ""
	s := d.Sessions.Get(r)
	if s == nil && t.Share == nil && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Authorization") == "" {
		// A browser's upload is a state change, worth a session so that
		// its progress can be watched and cancelled (its page may not
		// have opened the socket yet). A download by a stranger is not,
		// or every fetch would leave one behind; nor is a script's
		// upload with Basic auth, which has no page to show it.
		s, _ = d.Sessions.Ensure(c.Response(), r)
	}
	switch {
	case t.Share != nil:
		// A share's downloads are its maker's to watch, not the
		// recipient's (who has no session here).
		owner, op = t.Share.Owner, "share"
	case s != nil:
		owner = s.Owner
	}
	return &tracked{ctx: ctx, cancel: cancel, d: d, owner: owner, op: op,
		site: t.Site.Scheme + "://" + t.Site.String(), path: t.Show(p)}
}

// start registers the transfer. On cancel, cut wakes whatever I/O with
// the client is blocked: an upload's body reads (its writes stay open, so
// the client still gets the 499), or a download's response writes. The
// context is cancelled first, so whoever wakes up sees why.
func (tk *tracked) start(total int64, cut func(time.Time) error) *transfer.Transfer {
	return tk.d.Transfers.Start(tk.owner, tk.op, tk.site, tk.path, total, func() {
		tk.cancel(transfer.ErrCanceled)
		_ = cut(time.Now())
	})
}

// end records how the transfer ended: done, canceled, or failed with the
// words the person would see on an error page.
func (tk *tracked) end(x *transfer.Transfer, err error, what string) {
	switch {
	case err == nil:
		x.Done()
	case errors.Is(context.Cause(tk.ctx), transfer.ErrCanceled):
		x.Canceled()
	default:
		x.Fail(ftpError(err, what).Msg)
	}
	tk.cancel(nil)
}

// meteredResponse counts the body bytes of a download as the browser takes
// them, and registers the transfer only once a body starts (a HEAD, a 304
// or an error is no transfer).
type meteredResponse struct {
	http.ResponseWriter
	tk       *tracked
	head     bool // a HEAD request sends no body, so it is no transfer
	x        *transfer.Transfer
	writeErr error
}

func (m *meteredResponse) WriteHeader(status int) {
	if (status == http.StatusOK || status == http.StatusPartialContent) && m.x == nil && !m.head {
		total, err := strconv.ParseInt(m.Header().Get("Content-Length"), 10, 64)
		if err != nil {
			total = -1
		}
		m.x = m.tk.start(total, http.NewResponseController(m.ResponseWriter).SetWriteDeadline)
	}
	m.ResponseWriter.WriteHeader(status)
}

func (m *meteredResponse) Write(b []byte) (int, error) {
	n, err := m.ResponseWriter.Write(b)
	m.sent(int64(n), err)
	return n, err
}

// sent counts n bytes the browser took, and keeps the first failure to
// send (sendErr nil: none).
func (m *meteredResponse) sent(n int64, sendErr error) {
	if m.x != nil {
		m.x.Add(n)
	}
	if sendErr != nil && m.writeErr == nil {
		m.writeErr = sendErr
	}
}

func (m *meteredResponse) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// downloadBuffers are the chunks downloads move in, pooled so memory stays
// flat.
var downloadBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// downloadChunk is the most a file moves between two progress counts: one
// splice(2) of Go's (its pipes hold 1 MiB). Larger would let a slow reader
// see no progress for long; smaller costs throughput.
const downloadChunk = 1 << 20

// ReadFrom is what io.Copy (and so http.ServeContent) uses to fill the
// response. A remote file moves itself (see ftppool.File.CopyTo: socket to
// socket in the kernel when it can); anything else goes in 256 KiB chunks
// rather than io.Copy's 32 KiB, since at these sizes the system calls, not
// the bytes, are what a download costs.
func (m *meteredResponse) ReadFrom(src io.Reader) (int64, error) {
	bp := downloadBuffers.Get().(*[]byte)
	defer downloadBuffers.Put(bp)
	// ServeContent hands over the file inside an io.LimitedReader.
	limit := &io.LimitedReader{R: src, N: math.MaxInt64}
	if lr, ok := src.(*io.LimitedReader); ok {
		limit = lr
	}
	f, ok := limit.R.(*ftppool.File)
	if !ok {
		return io.CopyBuffer(writerOnly{m}, src, *bp)
	}
	// The bytes bypass echo's writer, which would hide io.ReaderFrom, so
	// its count (the access log's) is kept here.
	er, _ := m.ResponseWriter.(*echo.Response)
	var w io.Writer = m.ResponseWriter
	if er != nil {
		w = er.Writer
	}
	var total int64
	for limit.N > 0 {
		n, err := f.CopyTo(w, min(limit.N, downloadChunk), *bp)
		limit.N -= n
		total += n
		if er != nil {
			er.Size += n
		}
		var sendErr error
		if _, ok := errors.AsType[*ftppool.WriteError](err); ok {
			sendErr = err
		}
		m.sent(n, sendErr)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom, so that io.CopyBuffer does the copying.
type writerOnly struct{ io.Writer }

// finish ends the download's transfer, if a body was started.
func (m *meteredResponse) finish(copyErr error) {
	defer m.tk.cancel(nil)
	if m.x == nil {
		return
	}
	ev := m.x.Event()
	switch {
	case errors.Is(context.Cause(m.tk.ctx), transfer.ErrCanceled):
		m.x.Canceled()
	case m.writeErr != nil:
		m.x.Fail("The browser stopped the download.")
	case copyErr != nil:
		m.x.Fail(ftpError(copyErr, "The file").Msg)
	case ev.Total >= 0 && ev.Bytes < ev.Total:
		// ServeContent does not report a failed read: a short body is one.
		m.x.Fail("The FTP server stopped sending the file before its end.")
	default:
		m.x.Done()
	}
}

// listTransfers answers GET /transfers: this session's running and recent
// transfers, newest first.
func listTransfers(d *Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := d.Sessions.Get(c.Request())
		if s == nil {
			return &httpError{Status: http.StatusUnauthorized, Msg: "There is no session: transfers belong to the browser session that started them."}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"transfers": d.Transfers.List(s.Owner)})
	}
}

// cancelTransfer answers POST /transfers/{id}/cancel.
func cancelTransfer(d *Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := d.Sessions.Get(c.Request())
		if s == nil || !d.Transfers.Cancel(s.Owner, c.Param("id")) {
			return &httpError{Status: http.StatusNotFound, Msg: "This session has no running transfer with that id."}
		}
		if wantsHTML(c.Request()) {
			return c.Redirect(http.StatusSeeOther, "/")
		}
		return c.JSON(http.StatusAccepted, map[string]string{"id": c.Param("id"), "state": "canceling"})
	}
}

// WebSocket limits: a browser only ever sends small cancel messages; pings
// find dead peers; a write that cannot finish in time ends the socket.
const (
	wsReadLimit  = 4 << 10
	wsPongWait   = 60 * time.Second
	wsPingEvery  = wsPongWait / 2
	wsWriteLimit = 10 * time.Second
)

// upgrader checks the Origin the way gorilla does by default: it must be
// this host (a request without Origin is not from a browser and passes).
// A cross-origin handshake is answered 403.
var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 4096}

// transferSocket answers GET /ws: this session's transfer events, live.
// One goroutine reads (cancel messages, pongs); this one writes, taking
// the latest state of each transfer whenever something changed, so a slow
// browser skips values instead of queueing them.
func transferSocket(d *Deps) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		// The page's script opens the socket on every listing it can
		// upload to, so this is where a browser's session begins; the
		// session is kept only if the handshake succeeds, so a plain GET
		// of /ws leaves nothing behind.
		var h http.Header
		s, keep := d.Sessions.Get(r), func() {}
		if s == nil && websocket.IsWebSocketUpgrade(r) {
			h = http.Header{}
			var err error
			if s, keep, err = d.Sessions.Begin(r, h); err != nil {
				return err
			}
		}
		if s == nil {
			return &httpError{Status: http.StatusUnauthorized, Msg: "There is no session: transfers belong to the browser session that started them."}
		}
		// Each socket holds a goroutine pair and buffers for as long as
		// the peer likes, so one session may hold only a few: a page
		// needs one, a person a few tabs.
		release, ok := s.OpenSocket(d.MaxSocketsPerSession)
		if !ok {
			return &httpError{Status: http.StatusTooManyRequests, retryAfter: wsPongWait,
				Msg: fmt.Sprintf("This session has %d transfer sockets open already, the most the bridge allows; close a tab of the bridge's pages.", d.MaxSocketsPerSession)}
		}
		defer release()
		ws, err := upgrader.Upgrade(c.Response(), r, h)
		if err != nil {
			return nil // the upgrader has answered already (403 for a foreign origin)
		}
		defer ws.Close()
		keep()
		sub := d.Transfers.Subscribe(s.Owner)
		defer sub.Close()

		closed := make(chan struct{})
		go readCancels(d, ws, s, closed)

		write := func(ev transfer.Event) error {
			_ = ws.SetWriteDeadline(time.Now().Add(wsWriteLimit))
			return ws.WriteJSON(ev)
		}
		// A page that (re)connects first gets where everything stands.
		now := d.Transfers.List(s.Owner)
		for i := len(now) - 1; i >= 0; i-- {
			if write(now[i]) != nil {
				return nil
			}
		}
		ping := time.NewTicker(wsPingEvery)
		defer ping.Stop()
		for {
			select {
			case <-closed:
				drain(ws)
				return nil
			case <-d.Stopping:
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "the bridge is restarting"), time.Now().Add(time.Second))
				return nil
			case <-s.Ended():
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "the session ended"), time.Now().Add(time.Second))
				return nil
			case <-ping.C:
				if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteLimit)) != nil {
					return nil
				}
			case <-sub.Wake():
				for _, ev := range sub.Take() {
					if write(ev) != nil {
						return nil
					}
				}
			}
		}
	}
}

// readCancels reads the browser's messages until the socket ends.
func readCancels(d *Deps, ws *websocket.Conn, s *session.Session, closed chan<- struct{}) {
	defer close(closed)
	owner := s.Owner
	ws.SetReadLimit(wsReadLimit) // over it, gorilla closes with 1009
	_ = ws.SetReadDeadline(time.Now().Add(wsPongWait))
	ws.SetPongHandler(func(string) error {
		// An open page keeps its session, even one without logins
		// whose idle limit is short.
		d.Sessions.Touch(s)
		return ws.SetReadDeadline(time.Now().Add(wsPongWait))
	})
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct{ Type, ID string }
		if json.Unmarshal(msg, &m) == nil && m.Type == "cancel" {
			d.Transfers.Cancel(owner, m.ID)
		}
	}
}

// drain reads and drops what the peer still sends, for at most a second,
// before the socket closes: after a refused message (over the read limit,
// 1009) the rest of it is still in flight, and closing with it unread
// would reset the connection and lose the close frame that says why.
func drain(ws *websocket.Conn) {
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, nc)
}
