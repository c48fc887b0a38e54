package access

import (
	"errors"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/embedftp"
	"github.com/ftpbridge/ftpbridge/internal/ftptest/testftp"
	"github.com/ftpbridge/ftpbridge/internal/seal"
	"github.com/ftpbridge/ftpbridge/internal/session"
)

func testResolver(t *testing.T) *Resolver {
	t.Helper()
	var d net.Dialer
	pool := ftppool.New(ftppool.Config{Dial: d.DialContext, WaitTimeout: 5 * time.Second, IOTimeout: 5 * time.Second, DialTimeout: 5 * time.Second,
		MaxConnsPerSession: 2, MaxConnsPerHost: 4, IdleTimeout: time.Minute})
	t.Cleanup(pool.Close)
	sealer, err := seal.LoadKey(filepath.Join(t.TempDir(), "key"))
	if err != nil {
		t.Fatal(err)
	}
	return NewResolver(pool, session.NewStore(sealer, session.Options{Limits: session.Limits{TTL: time.Hour}}), sealer, nil)
}

// TestResolveErrors: what a request lacks or gets wrong comes back as a
// typed error for the front to answer, never as an answer of its own.
func TestResolveErrors(t *testing.T) {
	a := testResolver(t)

	_, err := a.Resolve(httptest.NewRequest("GET", "/ftp/alice@ftp.example.org/pub/", nil))
	if nl, ok := errors.AsType[*NeedLoginError](err); !ok || nl.Site.User != "alice" || nl.Site.Host != "ftp.example.org" || nl.Err != nil {
		t.Errorf("a user and no login: %v, want a NeedLoginError for alice@ftp.example.org with no server's refusal", err)
	}

	_, err = a.Resolve(httptest.NewRequest("GET", "/ftp/alice:secret@ftp.example.org/pub/", nil))
	const want = "Passwords never go in a bridge address. Log in with the connect form, or send HTTP Basic auth."
	if bad, ok := errors.AsType[*BadRequestError](err); !ok || bad.Msg != want {
		t.Errorf("a password in the address: %v, want a BadRequestError %q", err, want)
	}

	r := httptest.NewRequest("GET", "/ftp/alice@ftp.example.org/pub/", nil)
	r.SetBasicAuth("bob", "pw")
	if _, err = a.Resolve(r); !errors.As(err, new(*BadRequestError)) {
		t.Errorf("another user in the Authorization header: %v, want a BadRequestError", err)
	}
}

// TestResolveRefusedLogin: a login the server refuses asks for another,
// with the server's refusal to say why.
func TestResolveRefusedLogin(t *testing.T) {
	srv := testftp.Start(t, embedftp.Options{})
	a := testResolver(t)
	r := httptest.NewRequest("GET", "/ftp/"+srv.Addr()+"/", nil)
	r.SetBasicAuth(testftp.User, "wrong")
	_, err := a.Resolve(r)
	nl, ok := errors.AsType[*NeedLoginError](err)
	if !ok || nl.Err == nil || ftppool.ErrorKind(nl.Err) != ftppool.KindLogin {
		t.Fatalf("a wrong password: %v, want a NeedLoginError with the server's refusal", err)
	}

	r.SetBasicAuth(testftp.User, testftp.Password)
	tg, err := a.Resolve(r)
	if err != nil || tg.Path != tg.Home || !tg.Dir || tg.Login.User != testftp.User {
		t.Fatalf("the right password: %+v, %v; want the login folder", tg, err)
	}
}
