package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ftpbridge/ftpbridge/internal/session"
)

// sessions is session.Records over the sessions and session_sites tables.
type sessions struct{ db *DB }

// Get implements session.Records.
func (st sessions) Get(ctx context.Context, id string) (*session.Record, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := st.db.pool.Query(ctx, `SELECT s.owner, s.created, s.last_seen, ss.site, ss.password, ss.encoding, ss.mode
		FROM sessions s LEFT JOIN session_sites ss ON ss.owner = s.owner WHERE s.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("read a session: %w", err)
	}
	defer rows.Close()
	var r *session.Record
	for rows.Next() {
		if r == nil {
			r = &session.Record{ID: id}
		}
		var key, encoding, mode *string // NULL for a session without logins
		var site session.Site
		if err := rows.Scan(&r.Owner, &r.Created, &r.LastSeen, &key, &site.Password, &encoding, &mode); err != nil {
			return nil, fmt.Errorf("read a session: %w", err)
		}
		if key == nil {
			continue
		}
		site.Encoding, site.Mode = *encoding, *mode
		if r.Sites == nil {
			r.Sites = make(map[string]session.Site)
		}
		r.Sites[*key] = site
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read a session: %w", err)
	}
	return r, nil
}

// Add implements session.Records. With a bound, Adds take turns under an
// advisory lock, so that two bridges adding at once do not both see room
// for one more.
func (st sessions) Add(ctx context.Context, r *session.Record, l session.Limits) ([]string, error) {
	var dropped []string
	err := st.db.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		dropped = nil
		if l.Max > 0 {
			var err error
			if dropped, err = makeRoom(ctx, tx, r.LastSeen, l); err != nil {
				return err
			}
		}
		// A record of the same owner is replaced, sites and all.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE owner = $1`, r.Owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (owner, id, created, last_seen) VALUES ($1, $2, $3, $4)`,
			r.Owner, r.ID, r.Created, r.LastSeen); err != nil {
			return err
		}
		for key, s := range r.Sites {
			if _, err := tx.Exec(ctx, `INSERT INTO session_sites (owner, site, password, encoding, mode) VALUES ($1, $2, $3, $4, $5)`,
				r.Owner, key, s.Password, s.Encoding, s.Mode); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add a session: %w", err)
	}
	return dropped, nil
}

// makeRoom drops records until there is room for one more within l.Max:
// the stale ones at now, then the least recently used without logins,
// then the least recently used of all, as session.Limits says. It returns
// the owners dropped, in that order.
func makeRoom(ctx context.Context, tx pgx.Tx, now time.Time, l session.Limits) ([]string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockSessionAdd); err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil || n < l.Max {
		return nil, err
	}
	dropped, err := expire(ctx, tx, now, l)
	if err != nil || n-len(dropped) < l.Max {
		return dropped, err
	}
	rows, err := tx.Query(ctx, `WITH victims AS (
			SELECT owner, last_seen, EXISTS (SELECT 1 FROM session_sites ss WHERE ss.owner = s.owner) AS logged_in
			FROM sessions s ORDER BY logged_in, last_seen, owner LIMIT $1
		), gone AS (
			DELETE FROM sessions WHERE owner IN (SELECT owner FROM victims) RETURNING owner
		)
		SELECT owner FROM gone JOIN victims USING (owner) ORDER BY logged_in, last_seen, owner`,
		n-len(dropped)-l.Max+1)
	if err != nil {
		return nil, err
	}
	pushed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return append(dropped, pushed...), err
}

// expire deletes the records stale at now and returns their owners.
func expire(ctx context.Context, tx pgx.Tx, now time.Time, l session.Limits) ([]string, error) {
	rows, err := tx.Query(ctx, `DELETE FROM sessions s WHERE s.last_seen < $1
			OR s.last_seen < $2 AND NOT EXISTS (SELECT 1 FROM session_sites ss WHERE ss.owner = s.owner)
		RETURNING owner`,
		now.Add(-l.TTL), now.Add(-min(l.TTL, l.BareTTL)))
	if err != nil {
		return nil, err
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(gone) == 0 {
		gone = nil
	}
	return gone, err
}

// Renew implements session.Records.
func (st sessions) Renew(ctx context.Context, owner, id string, now time.Time) error {
	return st.exec(ctx, "renew a session", `UPDATE sessions SET id = $2, last_seen = $3 WHERE owner = $1`, owner, id, now)
}

// Touch implements session.Records.
func (st sessions) Touch(ctx context.Context, owner string, now time.Time) error {
	return st.exec(ctx, "touch a session", `UPDATE sessions SET last_seen = $2 WHERE owner = $1`, owner, now)
}

// SetSite implements session.Records. A record deleted meanwhile, by this
// bridge or another, is left gone.
func (st sessions) SetSite(ctx context.Context, owner, key string, s session.Site) error {
	err := st.exec(ctx, "keep a session's login", `INSERT INTO session_sites (owner, site, password, encoding, mode)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM sessions WHERE owner = $1)
		ON CONFLICT (owner, site) DO UPDATE
		SET password = excluded.password, encoding = excluded.encoding, mode = excluded.mode`,
		owner, key, s.Password, s.Encoding, s.Mode)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: deleted since the check
		return nil
	}
	return err
}

// exec runs one statement that returns no rows, bounded by opTimeout.
func (st sessions) exec(ctx context.Context, what, sql string, args ...any) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	if _, err := st.db.pool.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Forget implements session.Records.
func (st sessions) Forget(ctx context.Context, owner, key string) ([]string, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	rows, err := st.db.pool.Query(ctx, `DELETE FROM session_sites WHERE owner = $1 AND ($2 = '' OR site = $2) RETURNING site`, owner, key)
	if err != nil {
		return nil, fmt.Errorf("forget a session's login: %w", err)
	}
	gone, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("forget a session's login: %w", err)
	}
	if len(gone) == 0 {
		return nil, nil
	}
	slices.Sort(gone)
	return gone, nil
}

// Delete implements session.Records.
func (st sessions) Delete(ctx context.Context, owner string) (bool, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	tag, err := st.db.pool.Exec(ctx, `DELETE FROM sessions WHERE owner = $1`, owner)
	if err != nil {
		return false, fmt.Errorf("delete a session: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Expire implements session.Records. Every bridge expires now and then;
// one at a time does, and the others, finding it busy, return nothing:
// the owners dropped are returned to the bridge that dropped them only.
func (st sessions) Expire(ctx context.Context, now time.Time, l session.Limits) ([]string, error) {
	var gone []string
	err := st.db.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		ok, err := tryLock(ctx, tx, lockSessionPurge)
		if err != nil || !ok {
			return err
		}
		gone, err = expire(ctx, tx, now, l)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("expire sessions: %w", err)
	}
	return gone, nil
}

// Len implements session.Records.
func (st sessions) Len(ctx context.Context) (int, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	var n int
	if err := st.db.pool.QueryRow(ctx, `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sessions: %w", err)
	}
	return n, nil
}
