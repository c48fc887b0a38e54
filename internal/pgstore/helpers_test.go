package pgstore

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ftpbridge/ftpbridge/internal/servicetest"
)

// startPostgres starts an empty PostgreSQL server of t's own and returns
// its process and URL.
func startPostgres(t *testing.T) (*servicetest.Process, string) {
	t.Helper()
	return servicetest.Postgres(t, servicetest.NewPorts(t))
}

// open opens url as a bridge does, closed when t ends.
func open(t *testing.T, url string, logger *slog.Logger) *DB {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := Open(context.Background(), url, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// empty deletes every share and session, so that each behaviour starts
// from an empty store without a server of its own. It also opens every
// connection the pool may hold, so that calls made at once run at once
// rather than one after the other while the pool dials.
func empty(t *testing.T, db *DB) {
	t.Helper()
	if _, err := db.pool.Exec(context.Background(), `TRUNCATE shares, sessions, session_sites`); err != nil {
		t.Fatal(err)
	}
	var conns []*pgxpool.Conn
	for range db.pool.Config().MaxConns {
		c, err := db.pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
}

// together runs fn(i) for i in [0, n) in n goroutines released at once,
// and waits for them all.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// kind is one implementation of a store interface S: setup prepares what
// it needs once (a server) and returns how to get an empty store for one
// behaviour.
type kind[S any] struct {
	name  string
	setup func(t *testing.T) func(t *testing.T) S
}

// behaviour is one part of S's contract, checked on an empty store.
type behaviour[S any] struct {
	name string
	test func(t *testing.T, st S)
}

// conform checks every kind on every behaviour.
func conform[S any](t *testing.T, kinds []kind[S], behaviours []behaviour[S]) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			fresh := k.setup(t)
			for _, b := range behaviours {
				t.Run(b.name, func(t *testing.T) { b.test(t, fresh(t)) })
			}
		})
	}
}

// postgres is the PostgreSQL kind of a store: one server for all the
// behaviours, emptied before each.
func postgres[S any](get func(*DB) S) kind[S] {
	return kind[S]{"postgres", func(t *testing.T) func(t *testing.T) S {
		_, url := startPostgres(t)
		db := open(t, url+"&pool_max_conns=8", nil) // at once as several bridges would be
		return func(t *testing.T) S {
			empty(t, db)
			return get(db)
		}
	}}
}
