// Package pgstore keeps shares and sessions in PostgreSQL, so that every
// bridge behind a load balancer sees the same ones: a share.Store and a
// session.Records over one connection pool (jackc/pgx/v5).
//
// The schema is in migrations/, embedded and applied by Open. The
// migrations are run by golang-migrate (its pgx/v5 driver and iofs
// source): of the two well-kept libraries it compiles in the fewest
// modules (itself and pgerrcode, against goose's four), and its driver
// holds a PostgreSQL advisory lock while it migrates, so bridges started
// at once apply each migration once. A migration that failed leaves the
// version marked dirty, and Open refuses to go on until someone looks
// (each file runs as one implicit transaction, so nothing half-done is
// left behind).
//
// What goes in the database is what the bridge already sealed: FTP
// passwords are sealed with the key file's key before they reach this
// package, and the key never does.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
)

//go:embed migrations/*.sql
var migrations embed.FS

// opTimeout bounds one store operation, so that a database gone away
// fails a request instead of hanging it: share.Store's methods take no
// context, and a caller's context may have no deadline.
const opTimeout = 5 * time.Second

// The advisory locks this package takes, so that bridges do one thing one
// at a time where they must. Migrations take golang-migrate's own.
const (
	lockSessionAdd   = 0x46545042_01 // FTPB: one Add counts and pushes out at a time
	lockSessionPurge = 0x46545042_02 // one bridge expires sessions, the others skip
	lockSharePurge   = 0x46545042_03 // one bridge purges shares, the others skip
	lockShareOwner   = 0x46545042    // with hashtext(owner): PutLimited per owner
	lockShareClient  = 0x46545043    // with hashtext(client): PutLimited per client
)

// DB is a connection pool to the bridge's database.
type DB struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to the database at url (postgres://…) and brings its
// schema up to date.
func Open(ctx context.Context, url string, logger *slog.Logger) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's error may quote the URL, and with it the password.
		return nil, errors.New("not a postgres:// URL or connection string that pgx reads")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	db := &DB{pool: pool, log: logger}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.migrate(); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies the migrations not yet applied, under golang-migrate's
// advisory lock.
func (db *DB) migrate() error {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	// Closing this sql.DB returns its connection to the pool and leaves
	// the pool open.
	drv, err := migratepgx.WithInstance(stdlib.OpenDBFromPool(db.pool), &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("migrate the database: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return fmt.Errorf("migrate the database: %w", err)
	}
	defer m.Close()
	from, _, _ := m.Version() // ErrNilVersion on a new database: from is 0
	err = m.Up()
	switch {
	case errors.Is(err, migrate.ErrNoChange):
		return nil
	case err != nil:
		return fmt.Errorf("migrate the database from version %d: %w", from, err)
	}
	to, _, _ := m.Version()
	db.log.Info("database schema migrated", "from", from, "to", to)
	return nil
}

// Ping says whether the database answers, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping the database: %w", err)
	}
	return nil
}

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// Shares is the share store in this database.
func (db *DB) Shares() share.Store { return shares{db} }

// Sessions is the session store in this database.
func (db *DB) Sessions() session.Records { return sessions{db} }

// bound is ctx cut to opTimeout.
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, opTimeout)
}

// tx runs fn in a transaction bounded by opTimeout, committed if fn
// returns nil.
func (db *DB) tx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
}

// tryLock takes the transaction-scoped advisory lock key if no other
// transaction holds it, and says whether it did.
func tryLock(ctx context.Context, tx pgx.Tx, key int64) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, key).Scan(&ok)
	return ok, err
}
