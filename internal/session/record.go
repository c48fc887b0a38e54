package session

import (
	"context"
	"time"
)

// Record is a session as Records keep it: plain data, so that a database
// shared by several bridges can hold it and any bridge can serve it.
// What only one process can hold (its open sockets) stays out.
type Record struct {
	ID    string // the cookie's id; a new one on every login
	Owner string // names the session's FTP connections; never changes
	// Sites holds the logins by site key ("ftp/alice@host:2121"); nil
	// for a session without logins, the common kind.
	Sites    map[string]Site
	Created  time.Time
	LastSeen time.Time
}

// Site is a session's login to one site.
type Site struct {
	Password []byte // sealed for this owner and site (see sealContext)
	Encoding string // the name encoding chosen, "" for UTF-8
	Mode     string // the transfer mode chosen, "" for automatic
}

// Limits say how long sessions live unused and how many are kept.
type Limits struct {
	TTL time.Duration // a session with logins, unused this long, ends
	// BareTTL is the same for a session without logins, which costs a
	// stranger nothing to make and so must not linger.
	BareTTL time.Duration
	// Max bounds the sessions kept (0: no bound). A new one past it
	// pushes out the least recently used session without logins, or, if
	// every one has logins, the least recently used of all.
	Max int
}

// Stale reports a record unused for longer than its kind may be.
func (l Limits) Stale(r *Record, now time.Time) bool {
	ttl := l.TTL
	if len(r.Sites) == 0 {
		ttl = min(ttl, l.BareTTL)
	}
	return now.Sub(r.LastSeen) > ttl
}

// Records keeps session records, safe for concurrent use. Whatever a
// method returns is the caller's: changing it changes no record. Methods
// that change a record name it by owner, which a login does not change, so
// a socket opened before a login still keeps its session alive after it.
// A record gone already (ended elsewhere) is left gone, without error.
type Records interface {
	// Get returns the record whose cookie id is id, or nil.
	Get(ctx context.Context, id string) (*Record, error)
	// Add keeps a new record. When l.Max records are kept already, it
	// first drops the stale ones, then pushes out others as l.Max says;
	// it returns the owners of the records dropped.
	Add(ctx context.Context, r *Record, l Limits) (dropped []string, err error)
	// Renew gives a record a new cookie id and marks it used at now.
	Renew(ctx context.Context, owner, id string, now time.Time) error
	// Touch marks a record used at now.
	Touch(ctx context.Context, owner string, now time.Time) error
	// SetSite keeps the login to one site.
	SetSite(ctx context.Context, owner, key string, s Site) error
	// Forget drops the login to one site, or all of them when key is "",
	// and returns the site keys dropped.
	Forget(ctx context.Context, owner, key string) ([]string, error)
	// Delete drops a record and reports whether there was one.
	Delete(ctx context.Context, owner string) (bool, error)
	// Expire drops the records stale at now and returns their owners.
	Expire(ctx context.Context, now time.Time, l Limits) ([]string, error)
	// Len is the number of records kept, stale ones included.
	Len(ctx context.Context) (int, error)
}
