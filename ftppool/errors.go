package ftppool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"syscall"

	"github.com/ftpbridge/ftpbridge/internal/netpolicy"
)

// Kind sorts an error by what the person can do about it. The HTTP layer
// maps kinds to status codes in one place.
type Kind int

// Error kinds, from the FTP server's replies and the network.
const (
	KindOther        Kind = iota
	KindLogin             // 530: wrong user or password
	KindNotFound          // 550/450: no such file (or the server will not say)
	KindPermission        // 550 that says so, 553
	KindExists            // target already there
	KindIsDir             // a file was asked for and it is a folder
	KindBusy              // no connection slot became free in time
	KindRefused           // the operator's network policy
	KindTimeout           // the server went silent
	KindUnreachable       // could not connect, or the connection broke
	KindTLS               // certificate or handshake failure
	KindProtocol          // the server said something we cannot use
	KindTooLarge          // listing over the limit
	KindUnavailable       // 421 and friends: the server refuses service now
	KindNotSupported      // 502/504: the server lacks the command
	KindQuota             // 552/452: no room (quota or disk full)
	KindNotEmpty          // a folder to delete still has entries
	KindSource            // reading what was to be uploaded failed
	KindLink              // a link where none may be followed
	KindLoginLimited      // too many failed logins lately
	KindWalkLimit         // a walk went past its budget (WalkLimitError)
	KindDataMode          // passive failed and active is off, or active was asked for and is off (ErrNeedsActive, ErrNoActivePorts)
)

// ErrNoTLS is returned when a server refuses AUTH TLS.
var ErrNoTLS = errors.New("the server refused to start TLS (AUTH TLS)")

// ErrIsDir is returned when a file operation meets a folder.
var ErrIsDir = errors.New("this is a folder, not a file")

// ErrExists is returned when the target of a write is already there.
var ErrExists = errors.New("already exists")

// ErrNotEmpty is returned when a folder to delete without recursion has entries.
var ErrNotEmpty = errors.New("the folder is not empty")

// SourceError wraps a failure to read the bytes of an upload (the client
// went away, sent too much, or the upload was cancelled), as opposed to a
// failure of the FTP server.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "reading the upload: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// connectError is a failure to find an FTP server at an address at all:
// the connection was refused or failed, or what answered did not greet as
// FTP does (in time, or at all). These are one error to the person asking:
// told apart, they would make the bridge a port scanner, showing which
// ports are closed and which run some other service.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// ConnectFailed reports an error of connectError's kind; its words are for
// the log only.
func ConnectFailed(err error) bool { return errors.As(err, new(*connectError)) }

// beforeGreeting marks an error of opening a control connection as a
// connectError, unless it says something safe and useful: a reply in FTP's
// form (the peer speaks FTP), the operator's policy, a certificate
// (verification needs the peer to have spoken TLS, and the person can act
// on it), or a name that does not resolve (nothing about any port).
func beforeGreeting(err error) error {
	var tpe *textproto.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var dnsErr *net.DNSError
	if errors.As(err, &tpe) || errors.Is(err, netpolicy.ErrRefused) || errors.As(err, &certErr) ||
		errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &dnsErr) {
		return err
	}
	return &connectError{err: err}
}

type loginError struct{ err error }

func (e *loginError) Error() string { return "login: " + e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// refusedError is a server turning away one more connection from the
// bridge's address (a 421 while connecting or logging in, or a 530 that
// says too many connections). It is no verdict on the login, and the pool
// waits for a connection it holds rather than failing the request.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return "the server refuses more connections: " + e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// asRefusal tells whether err, from connecting or logging in, is a
// server's connection limit rather than a failure. A 421 is one unless its
// words blame the login; a 530 (or jlaffaye's codeless refusal of USER)
// only when its words say too many connections, users or clients: a wrong
// password must stay a failed login, which the login gate counts.
func asRefusal(err error) bool {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		switch tpe.Code {
		case 421:
			return !blamesLogin(tpe.Msg)
		case 530:
			return saysTooMany(tpe.Msg)
		}
		return false
	}
	return errors.As(err, new(*loginError)) && saysTooMany(err.Error())
}

// saysTooMany recognises the wording of connection limits: vsftpd's "too
// many connections from your internet address", pure-ftpd's "too many
// connections (3) from this IP", proftpd's "the maximum number of clients
// (3) from your host are already connected", FileZilla's "too many users
// are connected". Limits on failed logins ("too many login failures") are
// not connection limits.
func saysTooMany(msg string) bool {
	m := strings.ToLower(msg)
	if blamesLogin(m) {
		return false
	}
	limit := strings.Contains(m, "too many") || strings.Contains(m, "maximum number") ||
		strings.Contains(m, "max clients") || strings.Contains(m, "max connections")
	who := strings.Contains(m, "connection") || strings.Contains(m, "user") ||
		strings.Contains(m, "client") || strings.Contains(m, "session")
	return limit && who
}

// blamesLogin spots a reply about the credentials or about failed tries.
func blamesLogin(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"incorrect", "fail", "attempt", "password", "invalid", "wrong"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

// ErrorKind classifies err.
func ErrorKind(err error) Kind {
	var tpe *textproto.Error
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var login *loginError
	switch {
	case err == nil:
		return KindOther
	case errors.As(err, new(*WalkLimitError)):
		// Whatever the command its budget cut said (a deadline, a
		// closed connection), the budget ended the walk.
		return KindWalkLimit
	case errors.As(err, new(*SourceError)):
		return KindSource
	case errors.As(err, new(*LoginLimitError)):
		return KindLoginLimited
	case errors.Is(err, ErrNeedsActive), errors.Is(err, ErrNoActivePorts):
		return KindDataMode
	case errors.Is(err, ErrExists):
		return KindExists
	case errors.Is(err, ErrNotEmpty):
		return KindNotEmpty
	case errors.Is(err, netpolicy.ErrRefused):
		return KindRefused
	case errors.Is(err, ErrBusy), errors.As(err, new(*refusedError)):
		return KindBusy
	case errors.Is(err, ErrIsDir):
		return KindIsDir
	case errors.Is(err, ErrLink):
		return KindLink
	case errors.Is(err, errNotListed), errors.Is(err, ErrNotFolder):
		return KindNotFound
	case errors.Is(err, errListingTooLarge):
		return KindTooLarge
	case errors.Is(err, ErrNoTLS), errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recErr),
		strings.Contains(err.Error(), "tls: "):
		return KindTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return KindTimeout
	case errors.As(err, &tpe):
		return replyKind(tpe, errors.As(err, &login))
	case errors.As(err, &login):
		// jlaffaye turns a refused USER into a plain error without a code.
		return KindLogin
	case dropped(err), errors.As(err, &netErr), errors.Is(err, syscall.ECONNREFUSED):
		return KindUnreachable
	}
	return KindProtocol
}

func replyKind(e *textproto.Error, duringLogin bool) Kind {
	msg := strings.ToLower(e.Msg)
	switch {
	case e.Code == 530 || e.Code == 332 || (duringLogin && e.Code/100 == 5):
		return KindLogin
	case e.Code == 421:
		return KindUnavailable
	case e.Code == 552 || e.Code == 452:
		return KindQuota
	case e.Code == 553 || strings.Contains(msg, "permission") || strings.Contains(msg, "denied"):
		return KindPermission
	case e.Code == 550 || e.Code == 450 || e.Code == 551:
		// "File exists", "already exists"; not pure-ftpd's "Can't check
		// for file existence", its answer about a missing path.
		if strings.Contains(msg, "exists") && !strings.Contains(msg, "not exist") && !strings.Contains(msg, "no such") {
			return KindExists
		}
		return KindNotFound
	case e.Code == 500 || e.Code == 502 || e.Code == 504:
		return KindNotSupported
	}
	return KindProtocol
}

// dropped reports a control connection the server closed: the operation
// can be retried on a new connection.
func dropped(err error) bool {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code == 421
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// inStep reports an error after which the connection is still usable: the
// server answered with a reply code that was not the one expected. For a
// transfer's joined errors the last one decides, as it is the reply that
// ends the transfer; a failure of the upload's source alone leaves the
// server's reply read and the connection in step.
func inStep(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		if len(errs) == 0 {
			return false
		}
		last := errs[len(errs)-1]
		return inStep(last) || len(errs) == 1 && errors.As(last, new(*SourceError))
	}
	if errors.Is(err, ErrExists) || errors.Is(err, ErrIsDir) || errors.Is(err, ErrNotEmpty) || errors.Is(err, errNoPWD) {
		return true // our own verdicts, drawn from answers the server gave
	}
	var tpe *textproto.Error
	return errors.As(err, &tpe) && tpe.Code != 421 && !errors.Is(err, errListingTooLarge)
}

// Reply returns the server's own words in err, if any, for messages.
func Reply(err error) string {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		// Not tpe.Error(), which quotes the text as Go does (\"…\").
		return fmt.Sprintf("%03d %s", tpe.Code, tpe.Msg)
	}
	return ""
}
