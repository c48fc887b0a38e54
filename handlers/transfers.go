package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/httpfile"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// tracked begins the transfer of a request, unlisted until it starts: its
// context ends with transfer.ErrCanceled when someone cancels it from the
// transfers panel.
func (f *files) tracked(c echo.Context, op string, t *access.Target, p string) *transfer.Transfer {
	r := c.Request()
	owner := ""
	s := f.sessions.Get(r)
	if s == nil && t.Share == nil && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Authorization") == "" {
		// A browser's upload is a state change, worth a session so that
		// its progress can be watched and cancelled (its page may not
		// have opened the socket yet). A download by a stranger is not,
		// or every fetch would leave one behind; nor is a script's
		// upload with Basic auth, which has no page to show it.
		s, _ = f.sessions.Ensure(c.Response(), r)
	}
	switch {
	case t.Share != nil:
		// A share's downloads are its maker's to watch, not the
		// recipient's (who has no session here).
		owner, op = t.Share.Owner, "share"
	case s != nil:
		owner = s.Owner
	}
	return f.transfers.Begin(r.Context(), owner, op, t.Site.Scheme+"://"+t.Site.String(), t.Show(p))
}

// cutWrites is a transfer's cut for a response: a cancel wakes a blocked
// write to the client at once.
func cutWrites(c echo.Context) func() {
	rc := http.NewResponseController(c.Response())
	return func() { _ = rc.SetWriteDeadline(time.Now()) }
}

// failure is a transfer's describe: the words of the error page.
func failure(what string) func(error) string {
	return func(err error) string {
		if he, ok := errors.AsType[*httpError](err); ok {
			return he.Msg // the bridge's own verdict (a PUT's If-Match)
		}
		return ftpError(err, what).Msg
	}
}

// sendFailed tells a file's failure to send from its failure to read.
func sendFailed(err error) bool {
	_, ok := errors.AsType[*ftppool.WriteError](err)
	return ok
}

// meteredResponse is a download's response (httpfile.Response), which
// ends the transfer with the pages' words.
type meteredResponse struct{ *httpfile.Response }

func newMeteredResponse(c echo.Context, x *transfer.Transfer) *meteredResponse {
	return &meteredResponse{httpfile.NewResponse(c.Response(), c.Request(), x, echoBody{c.Response()}, sendFailed)}
}

// finish ends the download's transfer, if a body was started; copyErr is
// the file's failure, if the copy saw one.
func (m *meteredResponse) finish(copyErr error) {
	m.Body.End(copyErr, func(err error) string {
		switch {
		case errors.As(err, new(*transfer.SendError)):
			return "The browser stopped the download."
		case errors.Is(err, transfer.ErrShort):
			return "The FTP server stopped sending the file before its end."
		}
		return ftpError(err, "The file").Msg
	})
}

// echoBody is where a download's body goes. Written, it is echo's
// response; read into, it is the connection's response under echo's,
// which hides io.ReaderFrom, so a file can splice to the socket: its bytes
// are counted for the access log as echo would.
type echoBody struct{ er *echo.Response }

func (b echoBody) Write(p []byte) (int, error) { return b.er.Write(p) }

func (b echoBody) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(b.er.Writer, src)
	b.er.Size += n
	return n, err
}

// live shows a session its transfers and lets it cancel them: the
// transfers panel and its socket.
type live struct {
	sessions   *session.Store
	transfers  *transfer.Tracker
	maxSockets int                         // a session's transfer sockets; 0 is no limit
	stopping   <-chan struct{}             // closed when shutdown begins: /readyz fails
	closing    <-chan struct{}             // closed when the drain ends: sockets close
	ready      func(context.Context) error // the shared stores answer (for /readyz); nil: no check
}

// listTransfers answers GET /transfers: this session's running and recent
// transfers, newest first.
func listTransfers(l *live) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := l.sessions.Get(c.Request())
		if s == nil {
			return &httpError{Status: http.StatusUnauthorized, Msg: "There is no session: transfers belong to the browser session that started them."}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]any{"transfers": l.transfers.List(watched(s)...)})
	}
}

// cancelTransfer answers POST /transfers/{id}/cancel.
func cancelTransfer(l *live) echo.HandlerFunc {
	return func(c echo.Context) error {
		s := l.sessions.Get(c.Request())
		if s == nil || !cancelAny(l.transfers, watched(s), c.Param("id")) {
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
func transferSocket(l *live) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		// The page's script opens the socket on every listing it can
		// upload to, so this is where a browser's session begins; the
		// session is dropped if the handshake fails, so a plain GET of
		// /ws leaves nothing behind.
		var h http.Header
		s, drop := l.sessions.Get(r), func() {}
		if s == nil && websocket.IsWebSocketUpgrade(r) {
			h = http.Header{}
			var err error
			if s, drop, err = l.sessions.Begin(r, h); err != nil {
				return err
			}
		}
		if s == nil {
			return &httpError{Status: http.StatusUnauthorized, Msg: "There is no session: transfers belong to the browser session that started them."}
		}
		// Each socket holds a goroutine pair and buffers for as long as
		// the peer likes, so one session may hold only a few: a page
		// needs one, a person a few tabs.
		release, ok := s.OpenSocket(l.maxSockets)
		if !ok {
			return &httpError{Status: http.StatusTooManyRequests, retryAfter: wsPongWait,
				Msg: fmt.Sprintf("This session has %d transfer sockets open already, the most the bridge allows; close a tab of the bridge's pages.", l.maxSockets)}
		}
		defer release()
		ws, err := upgrader.Upgrade(c.Response(), r, h)
		if err != nil {
			drop()
			return nil // the upgrader has answered already (403 for a foreign origin)
		}
		defer ws.Close()
		// The logins as this request found them: a login made later is
		// seen from the page's next socket.
		owners := watched(s)
		sub := l.transfers.Subscribe(owners...)
		defer sub.Close()

		closed := make(chan struct{})
		go l.readCancels(ws, s, owners, closed)

		write := func(ev transfer.Event) error {
			_ = ws.SetWriteDeadline(time.Now().Add(wsWriteLimit))
			return ws.WriteJSON(ev)
		}
		// A page that (re)connects first gets where everything stands.
		now := l.transfers.List(owners...)
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
			case <-l.closing:
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

// watched are the transfer owners a session sees: its own, and the FTP
// logins it holds (share.LoginID), whose WebDAV transfers have no session
// (package webdav). A session holds a login only once the server accepted
// its password, so it sees only what that user could see by logging in.
func watched(s *session.Session) []string {
	owners := []string{s.Owner}
	for _, key := range s.Sites() {
		site, err := access.ParseSiteKey(key)
		if err != nil || site.Anonymous() {
			continue
		}
		if _, ok := s.Password(key); ok {
			owners = append(owners, share.LoginID(site.Host, site.Port, site.User))
		}
	}
	return owners
}

// cancelAny cancels transfer id of any of the owners.
func cancelAny(tr *transfer.Tracker, owners []string, id string) bool {
	for _, owner := range owners {
		if tr.Cancel(owner, id) {
			return true
		}
	}
	return false
}

// readCancels reads the browser's messages until the socket ends.
func (l *live) readCancels(ws *websocket.Conn, s *session.Session, owners []string, closed chan<- struct{}) {
	defer close(closed)
	ws.SetReadLimit(wsReadLimit) // over it, gorilla closes with 1009
	_ = ws.SetReadDeadline(time.Now().Add(wsPongWait))
	ws.SetPongHandler(func(string) error {
		// An open page keeps its session, even one without logins
		// whose idle limit is short.
		l.sessions.Touch(s)
		return ws.SetReadDeadline(time.Now().Add(wsPongWait))
	})
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct{ Type, ID string }
		if json.Unmarshal(msg, &m) == nil && m.Type == "cancel" {
			cancelAny(l.transfers, owners, m.ID)
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
