package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"
	xdav "golang.org/x/net/webdav"

	"github.com/ftpbridge/ftpbridge/access"
	"github.com/ftpbridge/ftpbridge/ftppool"
	"github.com/ftpbridge/ftpbridge/internal/pgstore"
	"github.com/ftpbridge/ftpbridge/internal/redisbus"
	"github.com/ftpbridge/ftpbridge/internal/redislimit"
	"github.com/ftpbridge/ftpbridge/internal/redislock"
	"github.com/ftpbridge/ftpbridge/internal/seal"
	"github.com/ftpbridge/ftpbridge/internal/session"
	"github.com/ftpbridge/ftpbridge/internal/share"
	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// shared is what the bridges of a cluster share: shares and sessions in
// PostgreSQL (-database), events and limits in Redis (-redis), the key
// (-key-file). Without those flags each part is this process's own: the
// bbolt file, memory, and no bus.
type shared struct {
	sealer  *seal.Sealer
	shares  share.Store
	records session.Records // nil: this process's memory
	// ready says whether the database answers, for /readyz; nil without
	// -database.
	ready   func(context.Context) error
	bus     *redisbus.Bus     // nil without -redis
	limits  *redislimit.Store // nil without -redis
	locks   *redislock.Store  // nil without -redis
	closers []func()          // in the order opened; Close runs them backwards
}

// openShared opens the stores the flags name.
func openShared(ctx context.Context, cfg *config, logger *slog.Logger) (_ *shared, err error) {
	s := &shared{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("-data-dir: %w", err)
	}
	// The default key is made on first run. One that is named, or that a
	// cluster shares, must exist: bridges that each made their own would
	// read none of each other's cookies and passwords, and say nothing.
	keyFile, load := cfg.keyFile, seal.ReadKey
	if keyFile == "" {
		keyFile = filepath.Join(cfg.dataDir, "share.key")
		if cfg.database == "" {
			load = seal.LoadKey
		}
	}
	if s.sealer, err = load(keyFile); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("-key-file %s does not exist: make it once (head -c 32 /dev/urandom > %s; chmod 600 %s) and give every bridge the same file", keyFile, keyFile, keyFile)
		}
		return nil, err
	}
	if cfg.database != "" {
		db, err := pgstore.Open(ctx, cfg.database, logger)
		if err != nil {
			return nil, fmt.Errorf("-database: %w", err)
		}
		s.closers = append(s.closers, db.Close)
		s.shares, s.records, s.ready = db.Shares(), db.Sessions(), db.Ping
	} else {
		store, err := share.OpenBolt(filepath.Join(cfg.dataDir, "shares.db"))
		if err != nil {
			return nil, err
		}
		s.shares = store
		s.closers = append(s.closers, func() { store.Close() })
	}
	if cfg.redis != "" {
		opt, err := redis.ParseURL(cfg.redis)
		if err != nil {
			// The error may quote the URL, and with it a password.
			return nil, fmt.Errorf("-redis: not a redis:// or rediss:// URL")
		}
		// Without it go-redis ignores the contexts' deadlines, and a
		// Redis that stops answering holds a request for seconds.
		opt.ContextTimeoutEnabled = true
		redis.SetLogger(redisLog{logger})
		client := redis.NewClient(opt)
		s.closers = append(s.closers, func() { client.Close() })
		s.bus = redisbus.New(client, "", logger)
		s.closers = append(s.closers, s.bus.Close)
		s.limits = redislimit.New(client, redislimit.Options{Logger: logger})
		s.closers = append(s.closers, s.limits.Close)
		s.locks = redislock.New(client, redislock.Options{Logger: logger})
	}
	return s, nil
}

// transferBus is the bus for the tracker: none without -redis.
func (s *shared) transferBus() transfer.Bus {
	if s.bus == nil {
		return nil
	}
	return s.bus
}

// sharedLimits counts the login and share limits: in this process
// without -redis.
func (s *shared) sharedLimits() access.SharedLimits {
	if s.limits == nil {
		return nil
	}
	return s.limits
}

// budget is the connections the bridges may open to each FTP server
// together: none shared without -redis.
func (s *shared) budget() ftppool.Budget {
	if s.limits == nil {
		return nil
	}
	return s.limits
}

// davLocks makes the WebDAV lock systems: in this process's memory
// without -redis.
func (s *shared) davLocks() func(namespace string) xdav.LockSystem {
	if s.locks == nil {
		return nil
	}
	return s.locks.LockSystem
}

// Close closes what openShared opened.
func (s *shared) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// redisLog sends go-redis's own lines (a reconnect failing, say) to the
// debug log: each part that uses Redis says once, as a warning, that it
// is down and what the bridge does meanwhile, and go-redis would repeat
// it many times per outage on stderr.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
