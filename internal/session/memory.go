package session

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"
)

// Memory keeps records in this process's memory: the default, for one
// bridge, whose restart ends every session.
type Memory struct {
	mu      sync.Mutex
	byOwner map[string]*Record
	byID    map[string]string // cookie id -> owner
}

// NewMemory makes an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{byOwner: make(map[string]*Record), byID: make(map[string]string)}
}

// clone copies a record, so that neither store nor caller sees the
// other's changes. Sealed passwords are never changed in place, so
// sharing them is safe.
func clone(r *Record) *Record {
	c := *r
	c.Sites = maps.Clone(r.Sites)
	return &c
}

// Get implements Records.
func (m *Memory) Get(_ context.Context, id string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.byOwner[m.byID[id]]
	if r == nil {
		return nil, nil
	}
	return clone(r), nil
}

// Add implements Records.
func (m *Memory) Add(_ context.Context, r *Record, l Limits) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var dropped []string
	if l.Max > 0 && len(m.byOwner) >= l.Max {
		dropped = m.expireLocked(r.LastSeen, l) // a new record's LastSeen is now
		for len(m.byOwner) >= l.Max {
			victim := m.victimLocked()
			m.deleteLocked(victim)
			dropped = append(dropped, victim)
		}
	}
	m.byOwner[r.Owner] = clone(r)
	m.byID[r.ID] = r.Owner
	return dropped, nil
}

// victimLocked picks the record to push out: the least recently used
// without logins, else the least recently used of all. A scan, which at
// the tens of thousands of sessions Max allows costs far less than the
// request that asked for a new session; m.mu is held.
func (m *Memory) victimLocked() string {
	var victim *Record
	for _, r := range m.byOwner {
		bare, vBare := len(r.Sites) == 0, victim != nil && len(victim.Sites) == 0
		if victim == nil || bare && !vBare || bare == vBare && r.LastSeen.Before(victim.LastSeen) {
			victim = r
		}
	}
	return victim.Owner
}

// Renew implements Records.
func (m *Memory) Renew(_ context.Context, owner, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.byOwner[owner]; r != nil {
		delete(m.byID, r.ID)
		r.ID, r.LastSeen = id, now
		m.byID[id] = owner
	}
	return nil
}

// Touch implements Records.
func (m *Memory) Touch(_ context.Context, owner string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.byOwner[owner]; r != nil {
		r.LastSeen = now
	}
	return nil
}

// SetSite implements Records.
func (m *Memory) SetSite(_ context.Context, owner, key string, s Site) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.byOwner[owner]
	if r == nil {
		return nil
	}
	if r.Sites == nil {
		r.Sites = make(map[string]Site)
	}
	r.Sites[key] = s
	return nil
}

// Forget implements Records.
func (m *Memory) Forget(_ context.Context, owner, key string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.byOwner[owner]
	if r == nil {
		return nil, nil
	}
	return forgetSites(r.Sites, key), nil
}

// forgetSites drops the site key from sites, or every one when key is "",
// and returns the keys dropped, sorted.
func forgetSites(sites map[string]Site, key string) []string {
	var gone []string
	for k := range sites {
		if key == "" || k == key {
			gone = append(gone, k)
			delete(sites, k)
		}
	}
	sort.Strings(gone)
	return gone
}

// Delete implements Records.
func (m *Memory) Delete(_ context.Context, owner string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deleteLocked(owner), nil
}

func (m *Memory) deleteLocked(owner string) bool {
	r := m.byOwner[owner]
	if r == nil {
		return false
	}
	delete(m.byID, r.ID)
	delete(m.byOwner, owner)
	return true
}

// Expire implements Records.
func (m *Memory) Expire(_ context.Context, now time.Time, l Limits) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.expireLocked(now, l), nil
}

// expireLocked drops the stale records and returns their owners; m.mu is
// held.
func (m *Memory) expireLocked(now time.Time, l Limits) []string {
	var gone []string
	for owner, r := range m.byOwner {
		if l.Stale(r, now) {
			m.deleteLocked(owner)
			gone = append(gone, owner)
		}
	}
	return gone
}

// Len implements Records.
func (m *Memory) Len(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byOwner), nil
}
