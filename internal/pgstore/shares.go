package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ftpbridge/ftpbridge/internal/share"
)

// shares is share.Store over the shares table.
type shares struct{ db *DB }

// shareColumns are the columns of a share, in the order scanShare reads
// and shareArgs writes them.
const shareColumns = `id, owner, login, client, scheme, host, port, ftp_user, secret, path,
	encoding, mode, dir, created, expires, password_hash, max_downloads, downloads,
	last_download, last_path, last_etag, revoked`

func shareArgs(s *share.Share) []any {
	last := pgtype.Timestamptz{Time: s.LastDownload, Valid: !s.LastDownload.IsZero()}
	return []any{s.ID, s.Owner, s.Login, s.Client, s.Scheme, s.Host, s.Port, s.User, s.Secret, s.Path,
		s.Encoding, s.Mode, s.Dir, s.Created, s.Expires, s.PasswordHash, s.MaxDownloads, s.Downloads,
		last, s.LastPath, s.LastETag, s.Revoked}
}

func scanShare(row pgx.Row) (share.Share, error) {
	var s share.Share
	var last pgtype.Timestamptz
	err := row.Scan(&s.ID, &s.Owner, &s.Login, &s.Client, &s.Scheme, &s.Host, &s.Port, &s.User, &s.Secret, &s.Path,
		&s.Encoding, &s.Mode, &s.Dir, &s.Created, &s.Expires, &s.PasswordHash, &s.MaxDownloads, &s.Downloads,
		&last, &s.LastPath, &s.LastETag, &s.Revoked)
	if last.Valid {
		s.LastDownload = last.Time
	}
	return s, err
}

const insertShare = `INSERT INTO shares (` + shareColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`

// Put implements share.Store.
func (st shares) Put(s share.Share) error { return st.PutLimited(s, share.Limits{}) }

// PutLimited implements share.Store: the count and the insert are one
// transaction holding advisory locks on the owner and the client, so that
// shares made at once on several bridges are counted one after the other.
// The owner's lock is always taken first, so two never wait on each other.
func (st shares) PutLimited(s share.Share, l share.Limits) error {
	err := st.db.tx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		if l.PerOwner > 0 || l.PerClient > 0 {
			if err := st.checkLimits(ctx, tx, &s, l); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, insertShare, shareArgs(&s)...)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
			return fmt.Errorf("share %s exists already", s.ID)
		}
		return err
	})
	var tooMany *share.TooManyError
	if err != nil && !errors.As(err, &tooMany) {
		return fmt.Errorf("store a share: %w", err)
	}
	return err
}

// checkLimits locks s's owner and client and returns a TooManyError if
// either holds as many live shares as l allows.
func (shares) checkLimits(ctx context.Context, tx pgx.Tx, s *share.Share, l share.Limits) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockShareOwner, s.Owner); err != nil {
		return err
	}
	if s.Client != "" {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockShareClient, s.Client); err != nil {
			return err
		}
	}
	var byOwner, byClient int
	var ownerFirst, clientFirst pgtype.Timestamptz // the first live share to expire
	err := tx.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE owner = $1), min(expires) FILTER (WHERE owner = $1),
			count(*) FILTER (WHERE client = $2), min(expires) FILTER (WHERE client = $2)
		FROM shares WHERE expires > $3 AND (owner = $1 OR client = $2 AND $2 <> '')`,
		s.Owner, s.Client, l.Now).Scan(&byOwner, &ownerFirst, &byClient, &clientFirst)
	switch {
	case err != nil:
		return err
	case l.PerOwner > 0 && byOwner >= l.PerOwner:
		return &share.TooManyError{Max: l.PerOwner, Free: ownerFirst.Time.Sub(l.Now)}
	case s.Client != "" && l.PerClient > 0 && byClient >= l.PerClient:
		return &share.TooManyError{PerClient: true, Max: l.PerClient, Free: clientFirst.Time.Sub(l.Now)}
	}
	return nil
}

// Get implements share.Store.
func (st shares) Get(id string) (share.Share, error) {
	ctx, cancel := bound(context.Background())
	defer cancel()
	s, err := scanShare(st.db.pool.QueryRow(ctx, `SELECT `+shareColumns+` FROM shares WHERE id = $1`, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return s, share.ErrNotFound
	case err != nil:
		return s, fmt.Errorf("read a share: %w", err)
	}
	return s, nil
}

// List implements share.Store, from the owner and login indexes.
func (st shares) List(ids ...string) ([]share.Share, error) {
	var named []string
	for _, id := range ids {
		if id != "" { // "" names nothing, though many shares have no login
			named = append(named, id)
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	ctx, cancel := bound(context.Background())
	defer cancel()
	rows, err := st.db.pool.Query(ctx, `SELECT `+shareColumns+` FROM shares
		WHERE owner = ANY($1) OR login = ANY($1) ORDER BY created DESC, id`, named)
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (share.Share, error) { return scanShare(r) })
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	return list, nil
}

// Update implements share.Store: the row is locked from its read to its
// write.
func (st shares) Update(id string, fn func(*share.Share) error) (share.Share, error) {
	var s share.Share
	var fnErr error
	err := st.db.tx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		var err error
		s, err = scanShare(tx.QueryRow(ctx, `SELECT `+shareColumns+` FROM shares WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		args := append(shareArgs(&s)[1:], id) // the ID is not changed
		_, err = tx.Exec(ctx, `UPDATE shares SET (`+shareColumns[len("id, "):]+`) =
			($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
			WHERE id = $22`, args...)
		return err
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return s, share.ErrNotFound
	case err != nil && fnErr == nil:
		return s, fmt.Errorf("update share: %w", err)
	}
	return s, err
}

// CountDownload implements share.Store in one statement, which PostgreSQL
// runs on the row's latest version even when bridges count at once. When
// it counts nothing, the share is read to say why.
func (st shares) CountDownload(id string, now time.Time, path, etag string) (share.Share, error) {
	ctx, cancel := bound(context.Background())
	defer cancel()
	s, err := scanShare(st.db.pool.QueryRow(ctx, `UPDATE shares
		SET downloads = downloads + 1, last_download = $2, last_path = $3, last_etag = $4
		WHERE id = $1 AND NOT revoked AND expires > $2 AND (max_downloads <= 0 OR downloads < max_downloads)
		RETURNING `+shareColumns, id, now, path, etag))
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("count a download: %w", err)
	}
	s, err = st.Get(id)
	if err != nil {
		return s, err
	}
	if err := s.Usable(now); err != nil {
		return s, err
	}
	// Usable now, not when counted: the share changed in between.
	return s, fmt.Errorf("count a download: share %s changed meanwhile", id)
}

// Purge implements share.Store. Every bridge purges now and then; one at a
// time does, and the others, finding it busy, leave it the work.
func (st shares) Purge(expiredBefore time.Time) (int, error) {
	var n int64
	err := st.db.tx(context.Background(), func(ctx context.Context, tx pgx.Tx) error {
		if ok, err := tryLock(ctx, tx, lockSharePurge); err != nil || !ok {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM shares WHERE expires < $1`, expiredBefore)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge shares: %w", err)
	}
	return int(n), nil
}

// Close leaves the pool open: it is the DB's, closed by DB.Close.
func (shares) Close() error { return nil }
