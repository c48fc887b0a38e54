package pgstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
)

// TestOpenAtOnce: bridges started at once on a new database all start,
// and the schema is made once.
func TestOpenAtOnce(t *testing.T) {
	_, url := startPostgres(t)
	var log bytes.Buffer // the handler serializes its writes
	logger := slog.New(slog.NewTextHandler(&log, nil))
	const bridges = 3
	dbs := make([]*DB, bridges)
	errs := make([]error, bridges)
	together(bridges, func(i int) { dbs[i], errs[i] = Open(ctx, url, logger) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("bridge %d: %v", i, err)
		}
		t.Cleanup(dbs[i].Close)
	}
	if n := strings.Count(log.String(), "database schema migrated"); n != 1 {
		t.Errorf("the schema was migrated %d times:\n%s", n, log.String())
	}
	var version int
	var dirty bool
	if err := dbs[0].pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&version, &dirty); err != nil || version != 1 || dirty {
		t.Errorf("schema_migrations: version %d, dirty %v, %v", version, dirty, err)
	}
	// Each works.
	for i, db := range dbs {
		s := share.Share{ID: share.NewID(), Owner: fmt.Sprint("bridge", i), Expires: time.Now().Add(time.Hour)}
		if err := db.Shares().Put(s); err != nil {
			t.Errorf("bridge %d: %v", i, err)
		}
	}
}

// TestPurgeAtOnce: two bridges purging expired shares and sessions at
// once drop each one once between them.
func TestPurgeAtOnce(t *testing.T) {
	_, url := startPostgres(t)
	bridges := []*DB{open(t, url, nil), open(t, url, nil)}
	const expired, live = 300, 20
	now := time.Now().Truncate(time.Second)
	var dead []string
	for i := range expired + live {
		s := share.Share{ID: share.NewID(), Owner: "o", Expires: now.Add(-time.Hour)}
		r := record(fmt.Sprint("s", i), now.Add(-2*time.Hour))
		if i >= expired {
			s.Expires, r.LastSeen = now.Add(time.Hour), now
		} else {
			dead = append(dead, r.Owner)
		}
		if err := bridges[0].Shares().Put(s); err != nil {
			t.Fatal(err)
		}
		add(t, bridges[0].Sessions(), limits, r)
	}
	purged := make([]int, len(bridges))
	var mu sync.Mutex
	var ended []string
	together(len(bridges), func(i int) {
		n, err := bridges[i].Shares().Purge(now)
		if err != nil {
			t.Error(err)
		}
		gone, err := bridges[i].Sessions().Expire(ctx, now, limits)
		if err != nil {
			t.Error(err)
		}
		purged[i] = n
		mu.Lock()
		ended = append(ended, gone...)
		mu.Unlock()
	})
	if purged[0]+purged[1] != expired {
		t.Errorf("Purge at once deleted %d + %d shares; want %d in all", purged[0], purged[1], expired)
	}
	slices.Sort(ended)
	slices.Sort(dead)
	if !slices.Equal(ended, dead) {
		t.Errorf("Expire at once ended %d sessions (%d expired), or some twice", len(ended), len(dead))
	}
	if n, err := bridges[1].Sessions().Len(ctx); err != nil || n != live {
		t.Errorf("sessions left: %d, %v; want %d", n, err, live)
	}
	if list, err := bridges[1].Shares().List("o"); err != nil || len(list) != live {
		t.Errorf("shares left: %d, %v; want %d", len(list), err, live)
	}
}

// TestOutage: while the database is down every call fails within
// opTimeout, none hangs; once it is back, the same DB works again.
func TestOutage(t *testing.T) {
	proc, url := startPostgres(t)
	db := open(t, url, nil)
	s := share.Share{ID: share.NewID(), Owner: "o", Expires: time.Now().Add(time.Hour)}
	if err := db.Shares().Put(s); err != nil {
		t.Fatal(err)
	}
	add(t, db.Sessions(), limits, record("a", time.Now()))

	proc.Stop()
	bound := opTimeout + time.Second
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"share Get", func() error { _, err := db.Shares().Get(s.ID); return err }},
		{"share CountDownload", func() error { _, err := db.Shares().CountDownload(s.ID, time.Now(), "/f", ""); return err }},
		{"share Purge", func() error { _, err := db.Shares().Purge(time.Now()); return err }},
		{"session Get", func() error { _, err := db.Sessions().Get(ctx, "id-a"); return err }},
		{"session Add", func() error {
			_, err := db.Sessions().Add(ctx, record("b", time.Now()), session.Limits{Max: 10})
			return err
		}},
	} {
		began := time.Now()
		err := c.call()
		if took := time.Since(began); err == nil || took > bound {
			t.Errorf("%s with the database down: %v after %v; want an error within %v", c.name, err, took, bound)
		}
	}

	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	// The server takes logins only once it has recovered: poll until then.
	deadline := time.Now().Add(30 * time.Second)
	for err := db.Ping(ctx); err != nil; err = db.Ping(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("Ping 30 s after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the server's recovery
	}
	if got, err := db.Shares().Get(s.ID); err != nil || got.Owner != "o" {
		t.Errorf("Get after the database came back: %+v, %v", got, err)
	}
}
