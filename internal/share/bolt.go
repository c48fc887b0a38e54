package share

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore keeps shares in one bbolt file: embedded, pure Go, one file to
// back up, and safe against a crash mid-write (copy-on-write B+tree with
// fsync), which a download counter updated on every download needs.
type BoltStore struct {
	db *bolt.DB
}

var sharesBucket = []byte("shares")

// OpenBolt opens (or creates) the store file at path, mode 0600.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open share store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(sharesBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open share store %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Put adds a new share, with no limits.
func (b *BoltStore) Put(s Share) error { return b.PutLimited(s, Limits{}) }

// PutLimited adds a new share within l. It reads every share, as List
// does: share creation is rate-limited, so this is not done often.
func (b *BoltStore) PutLimited(s Share, l Limits) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(sharesBucket)
		if bk.Get([]byte(s.ID)) != nil {
			return fmt.Errorf("share %s exists already", s.ID)
		}
		if l.PerOwner <= 0 && l.PerClient <= 0 {
			return bk.Put([]byte(s.ID), v)
		}
		owner := &TooManyError{Max: l.PerOwner}
		client := &TooManyError{PerClient: true, Max: l.PerClient}
		var byOwner, byClient int
		err := bk.ForEach(func(_, v []byte) error {
			var o Share
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			if !l.Now.Before(o.Expires) {
				return nil
			}
			left := o.Expires.Sub(l.Now)
			if o.Owner == s.Owner {
				byOwner++
				owner.Free = minFree(owner.Free, left)
			}
			if s.Client != "" && o.Client == s.Client {
				byClient++
				client.Free = minFree(client.Free, left)
			}
			return nil
		})
		switch {
		case err != nil:
			return err
		case l.PerOwner > 0 && byOwner >= l.PerOwner:
			return owner
		case l.PerClient > 0 && byClient >= l.PerClient:
			return client
		}
		return bk.Put([]byte(s.ID), v)
	})
}

func minFree(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// Get finds a share by ID.
func (b *BoltStore) Get(id string) (Share, error) {
	var s Share
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(sharesBucket).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &s)
	})
	return s, err
}

// List returns the shares whose Owner or Login is one of ids, newest
// first. It reads every share: fine for the thousands a bridge has, and a
// networked store would index owners and logins.
func (b *BoltStore) List(ids ...string) ([]Share, error) {
	var out []Share
	mine := func(id string) bool { return id != "" && slices.Contains(ids, id) }
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(sharesBucket).ForEach(func(_, v []byte) error {
			var s Share
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			if mine(s.Owner) || mine(s.Login) {
				out = append(out, s)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Share) int { return b.Created.Compare(a.Created) })
	return out, err
}

// Update changes a share in one transaction.
func (b *BoltStore) Update(id string, fn func(*Share) error) (Share, error) {
	var s Share
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(sharesBucket)
		v := bk.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
		nv, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if bytes.Equal(nv, v) {
			return nil
		}
		return bk.Put([]byte(id), nv)
	})
	return s, err
}

// CountDownload counts a download in one transaction.
func (b *BoltStore) CountDownload(id string, now time.Time, path, etag string) (Share, error) {
	return b.Update(id, func(s *Share) error { return s.countDownload(now, path, etag) })
}

// Purge deletes the shares that expired before the given time.
func (b *BoltStore) Purge(expiredBefore time.Time) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(sharesBucket).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var s Share
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			if s.Expires.Before(expiredBefore) {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// Close closes the file.
func (b *BoltStore) Close() error { return b.db.Close() }
