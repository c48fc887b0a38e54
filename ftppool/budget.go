package ftppool

import (
	"context"
	"time"
)

// Budget shares the connections to each server among several bridges
// (internal/redislimit implements it on Redis): the connections every
// bridge holds to a server count against one cap and one learned limit,
// so that three bridges do not open three times what the server allows.
// host is the server's Endpoint.Addr. Any error means the budget cannot
// answer now: the pool then keeps to its own cap and learned limit
// alone, as it does without a budget.
type Budget interface {
	// Reserve takes a slot for one more connection to host, unless the
	// bridges together hold capacity or the limit learned for host;
	// limit is that limit (capacity when none is learned).
	Reserve(ctx context.Context, host string, capacity int, raiseAfter time.Duration) (ok bool, limit int, err error)
	// Release hands back a slot Reserve took.
	Release(ctx context.Context, host string) error
	// Refused learns that host refused a connection whose slot is still
	// held: its limit drops to the slots held besides (others, at least
	// one), and rises by one after each raiseAfter without a refusal, as
	// hostLimit does; at capacity it is forgotten.
	Refused(ctx context.Context, host string, capacity int, raiseAfter time.Duration) (others, limit int, err error)
	// Want asks the other bridges to close an idle connection to host,
	// for a request that Reserve refused, so that idle connections on
	// one bridge do not starve another until they idle out. Wanted
	// names the hosts other bridges want; it may miss some, since a
	// waiting request asks again each budgetPoll. One pool reads it.
	Want(ctx context.Context, host string) error
	Wanted() <-chan string
}

// budgetPoll is how often a request that the budget refused asks again:
// slots other bridges free are not announced.
const budgetPoll = 100 * time.Millisecond

// slot is how a dial stands with the budget.
type slot int

const (
	slotLocal   slot = iota // no budget, or it did not answer: the pool's own limits hold
	slotShared              // a slot of the budget is held
	slotRefused             // the bridges together hold the limit
)

// reserve asks the budget for a slot to host, for a dial the pool's own
// limits allowed.
func (p *Pool) reserve(ctx context.Context, host string) slot {
	if p.cfg.Budget == nil {
		return slotLocal
	}
	ok, limit, err := p.cfg.Budget.Reserve(ctx, host, p.cfg.MaxConnsPerHost, p.cfg.LimitRaiseAfter)
	if err != nil {
		return slotLocal
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noteSharedLimitLocked(host, limit)
	if !ok {
		return slotRefused
	}
	p.slots[host]++
	return slotShared
}

// learnShared tells the budget that host refused a dial that held a slot
// of it. ok is false when the budget did not answer: the pool then
// learns the limit alone (lowerLimitLocked).
func (p *Pool) learnShared(ctx context.Context, host string, s slot) (others int, ok bool) {
	if s != slotShared {
		return 0, false
	}
	others, limit, err := p.cfg.Budget.Refused(ctx, host, p.cfg.MaxConnsPerHost, p.cfg.LimitRaiseAfter)
	if err != nil {
		return 0, false
	}
	p.mu.Lock()
	p.noteSharedLimitLocked(host, limit)
	p.mu.Unlock()
	p.cfg.Logger.Debug("ftp server refused a connection: shared connection limit lowered", "server", host, "limit", limit)
	return others, true
}

// noteSharedLimitLocked keeps the budget's last word on host's limit,
// for PerHost.
func (p *Pool) noteSharedLimitLocked(host string, limit int) {
	if limit >= p.cfg.MaxConnsPerHost {
		delete(p.sharedLimits, host)
	} else {
		p.sharedLimits[host] = limit
	}
}

// giveWay closes an idle connection to each host another bridge wants a
// slot of, until Close.
func (p *Pool) giveWay() {
	defer p.wg.Done()
	for {
		var host string
		select {
		case <-p.stop:
			return
		case host = <-p.cfg.Budget.Wanted():
		}
		p.mu.Lock()
		victim := p.evictIdleLocked(host)
		p.mu.Unlock()
		if victim != nil {
			p.cfg.Logger.Debug("closed an idle ftp connection that another bridge needs", "server", host)
			p.quit(victim)
		}
	}
}

// releaseSlotLocked hands a budget slot back when a connection to host
// went away and the pool holds more slots than connections there: slots
// are alike, and connections dialled while the budget did not answer
// hold none. The budget is told in the background, so that p.mu is not
// held over a call to it.
func (p *Pool) releaseSlotLocked(host string) {
	if p.slots[host] <= p.perHost[host] {
		return
	}
	if p.slots[host]--; p.slots[host] == 0 {
		delete(p.slots, host)
	}
	go func() { _ = p.cfg.Budget.Release(context.Background(), host) }()
}
