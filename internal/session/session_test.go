package session

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// begin keeps a new session, as the transfer socket's handshake does.
func begin(t *testing.T, st *Store) *Session {
	t.Helper()
	s, keep, err := st.Begin(httptest.NewRequest(http.MethodGet, "/ws", nil), http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	keep()
	return s
}

// TestBareSessionsExpireSooner: a session without logins ends after
// BareTTL unused, one with a login only after TTL.
func TestBareSessionsExpireSooner(t *testing.T) {
	st := NewStore(12 * time.Hour)
	bare, login := begin(t, st), begin(t, st)
	login.SetPassword("ftp/alice@host:21", "pw")
	for _, s := range []*Session{bare, login} {
		s.mu.Lock()
		s.lastSeen = time.Now().Add(-DefaultBareTTL - time.Minute)
		s.mu.Unlock()
	}
	st.Expire()
	if st.Len() != 1 {
		t.Fatalf("%d sessions after 31 idle minutes, want only the one with a login", st.Len())
	}
	select {
	case <-bare.Ended():
	default:
		t.Error("the expired session did not say it ended")
	}
	select {
	case <-login.Ended():
		t.Error("the session with a login ended")
	default:
	}
}

// TestBeginKeepsNothingUntilKept: a handshake that fails leaves no session.
func TestBeginKeepsNothingUntilKept(t *testing.T) {
	st := NewStore(time.Hour)
	h := http.Header{}
	if _, _, err := st.Begin(httptest.NewRequest(http.MethodGet, "/ws", nil), h); err != nil {
		t.Fatal(err)
	}
	if st.Len() != 0 || h.Get("Set-Cookie") == "" {
		t.Errorf("Begin: %d sessions, cookie %q; want none kept and a cookie to send", st.Len(), h.Get("Set-Cookie"))
	}
}
