// Package share keeps download links that work without an FTP account: a
// random token names a file or folder on an FTP server, with the login the
// bridge uses to reach it (the password sealed with AES-256-GCM), an
// expiry, an optional password (bcrypt) and an optional download limit.
package share

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Share is one link.
type Share struct {
	ID    string `json:"id"`    // the token in /s/{token}: 128 random bits and nothing else
	Owner string `json:"owner"` // who made it: the bridge's owner id of a session or login
	// Login names the FTP login it was made with (server and user, as a
	// keyed hash): every session logged in as that user lists and
	// revokes it, whichever browser made it. "" for anonymous logins,
	// whose shares belong to the session that made them.
	Login  string `json:"login,omitempty"`
	Scheme string `json:"scheme"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	User   string `json:"user"` // the FTP login; "" is anonymous
	// Secret is the FTP password, sealed with the store's key and the
	// share's ID as additional data; nil for anonymous sites.
	Secret []byte `json:"secret,omitempty"`
	Path   string `json:"path"` // FTP path of the file or folder
	// Encoding is the name encoding of the site, as its maker chose it.
	Encoding string `json:"encoding,omitempty"`
	// Mode is the transfer mode of the site, as its maker chose it
	// ("passive", "active"; "" is automatic).
	Mode         string    `json:"mode,omitempty"`
	Dir          bool      `json:"dir"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
	PasswordHash []byte    `json:"password_hash,omitempty"` // bcrypt; nil: no password
	MaxDownloads int       `json:"max_downloads,omitempty"` // 0: no limit
	Downloads    int       `json:"downloads"`
	LastDownload time.Time `json:"last_download,omitzero"`
	// LastPath and LastETag name the file the last counted download was
	// of, and its version: only that may be resumed once the link is
	// used up.
	LastPath string `json:"last_path,omitempty"`
	LastETag string `json:"last_etag,omitempty"`
	// Client is the address (an IPv4, or an IPv6 /64) the share was made
	// from, for the limit of shares per client.
	Client  string `json:"client,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
}

// LoginID names the FTP login a share was made with (see Share.Login): the
// user at a server, as the site address named it.
func LoginID(host string, port int, user string) string {
	return "login:" + strconv.Quote(user) + "@" + net.JoinHostPort(strings.ToLower(host), strconv.Itoa(port))
}

// SealContext is what the sealed FTP password is bound to: the share and
// what it points at. Moved to another share, or pointed at another server
// or path in the store file, the password no longer opens.
func (s *Share) SealContext() string {
	return strings.Join([]string{s.ID, s.Scheme, s.Host, strconv.Itoa(s.Port), s.User, s.Path, strconv.FormatBool(s.Dir)}, "\x00")
}

// Why a share no longer works; each is said on the 410 page.
var (
	ErrNotFound = errors.New("no such share link")
	ErrExpired  = errors.New("this share link has expired")
	ErrRevoked  = errors.New("this share link was revoked by the person who made it")
	ErrUsedUp   = errors.New("this share link has been used as many times as its maker allowed")
)

// Usable says whether s may serve a request at now, and if not, why.
func (s *Share) Usable(now time.Time) error {
	switch {
	case s.Revoked:
		return ErrRevoked
	case !now.Before(s.Expires):
		return ErrExpired
	case s.MaxDownloads > 0 && s.Downloads >= s.MaxDownloads:
		return ErrUsedUp
	}
	return nil
}

// countDownload is CountDownload's change to s.
func (s *Share) countDownload(now time.Time, path, etag string) error {
	if err := s.Usable(now); err != nil {
		return err
	}
	s.Downloads++
	s.LastDownload = now
	s.LastPath, s.LastETag = path, etag
	return nil
}

// tokenBytes is the token's randomness: 128 bits.
const tokenBytes = 16

// NewID makes a token: 16 random bytes, base64url without padding.
func NewID() string {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return base64.RawURLEncoding.EncodeToString(b)
}

// ValidID says whether s has the form of a token, so that a tampered or
// made-up one is refused before the store is asked. The characters are
// checked first: the base64 decoder skips CR and LF.
func ValidID(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	for _, r := range s {
		if !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == tokenBytes
}

// Limits bounds the shares an owner or a client may hold: every share not
// yet expired counts, revoked ones too, since they stay stored as long.
type Limits struct {
	PerOwner  int // 0: no limit
	PerClient int // 0: no limit
	Now       time.Time
}

// TooManyError refuses a share past a Limits bound.
type TooManyError struct {
	PerClient bool          // the client's bound, not the owner's
	Max       int           // the bound
	Free      time.Duration // until the first counted share expires
}

func (e *TooManyError) Error() string {
	who := "owner"
	if e.PerClient {
		who = "client"
	}
	return fmt.Sprintf("this %s has %d share links already, the most allowed", who, e.Max)
}

// Store keeps shares: the embedded bbolt store, or for several bridges
// package pgstore's PostgreSQL one.
type Store interface {
	// Put adds a new share.
	Put(s Share) error
	// PutLimited adds a new share unless its owner or client would then
	// hold more live shares than l allows (ErrTooMany), checked and added
	// at once so that shares made all at once are limited too.
	PutLimited(s Share, l Limits) error
	// Get finds a share by ID; ErrNotFound if there is none.
	Get(id string) (Share, error)
	// List returns the shares whose Owner or Login is one of ids, newest
	// first.
	List(ids ...string) ([]Share, error)
	// Update changes a share atomically: fn sees the stored share and
	// may change it; an error from fn changes nothing and is returned.
	Update(id string, fn func(*Share) error) (Share, error)
	// CountDownload counts a download of the file at path, in version
	// etag, at now, if the share is Usable then: Downloads goes up by
	// one and LastDownload, LastPath and LastETag say this download. It
	// returns the share counted, or why it could not be (ErrNotFound or
	// Usable's error), checked and counted at once so that downloads at
	// once never count past MaxDownloads.
	CountDownload(id string, now time.Time, path, etag string) (Share, error)
	// Purge deletes the shares that expired before the given time and
	// says how many went.
	Purge(expiredBefore time.Time) (int, error)
	Close() error
}
