// Package redisbus is what the bridges of a cluster tell each other at
// once, on Redis pub/sub: transfer events and cancels (a transfer.Bus),
// and the end of a session, so a logout on one bridge ends the session on
// every bridge.
//
// Pub/sub delivers at most once, and nothing while a subscriber is away:
// that is all this needs. A transfer event carries the whole state, so the
// next one makes good a lost one. While Redis is down each bridge carries
// on alone: what it would send is dropped, with one warning per outage,
// and the subscription comes back by itself (go-redis reconnects and
// subscribes again).
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ftpbridge/ftpbridge/internal/transfer"
)

// The channels, one for each kind of message (README). Redis pub/sub
// ignores the database number: two clusters on one Redis server hear each
// other, harmlessly (owners and transfer ids are random), but wastefully.
const (
	eventsChannel      = "ftpbridge:transfer:events"
	cancelsChannel     = "ftpbridge:transfer:cancels"
	sessionEndsChannel = "ftpbridge:session:ends"
)

// message is what every channel carries, as JSON: who sent it and whose
// it is, and for the others an event (eventsChannel) or a transfer id
// (cancelsChannel).
type message struct {
	From  string          `json:"from"`
	Owner string          `json:"owner"`
	ID    string          `json:"id,omitempty"`
	Event *transfer.Event `json:"event,omitempty"`
}

// sendTimeout bounds one round of sending: Redis that does not answer in
// it is taken for down, and what the round held is dropped.
const sendTimeout = 2 * time.Second

// maxPending is the most messages waiting to be sent. A transfer's new
// event replaces its unsent one, so the queue holds one per transfer;
// beyond this (Redis too slow for the bridge's traffic) new messages are
// dropped: a transfer's state comes again with the next heartbeat, a
// cancel or a session end is lost as on an outage.
const maxPending = 10000

// Bus is one bridge's end of the Redis channels.
type Bus struct {
	client   redis.UniversalClient
	instance string
	log      *slog.Logger
	ps       *redis.PubSub

	mu       sync.Mutex
	onEvent  func(owner string, ev transfer.Event)
	onCancel func(owner, id string)
	onEnd    func(owner string)
	pending  map[string]outgoing // by key: the latest message of each transfer
	order    []string            // pending's keys, oldest first
	down     bool                // Redis failed us, and has not answered since

	wake chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

var _ transfer.Bus = (*Bus)(nil)

// outgoing is a message waiting to be sent.
type outgoing struct {
	channel string
	payload []byte
}

// New subscribes to the channels through client and starts sending;
// Close stops both. instance names this bridge in its messages, so it
// ignores its own: it must differ between the bridges, and "" picks a
// random one. Redis down at the start is an outage like any other: New
// waits for it at most sendTimeout, and the subscription is made when it
// answers.
func New(client redis.UniversalClient, instance string, logger *slog.Logger) *Bus {
	if instance == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b) // crypto/rand never fails on Linux
		instance = hex.EncodeToString(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	b := &Bus{
		client:   client,
		instance: instance,
		log:      logger,
		ps:       client.Subscribe(ctx, eventsChannel, cancelsChannel, sessionEndsChannel),
		pending:  make(map[string]outgoing),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	b.wg.Add(2)
	go b.receive(b.ps.Channel())
	go b.send()
	return b
}

// Close sends what is pending, if Redis takes it within sendTimeout, and
// leaves the channels. It closes nothing of the client's.
func (b *Bus) Close() {
	close(b.stop)
	_ = b.ps.Close()
	b.wg.Wait()
}

// Publish sends owner's transfer event to the other bridges
// (transfer.Bus); it does not wait for Redis.
func (b *Bus) Publish(owner string, ev transfer.Event) {
	b.enqueue("event:"+ev.ID, eventsChannel, message{Owner: owner, Event: &ev})
}

// Cancel asks the other bridges to cancel owner's transfer id
// (transfer.Bus).
func (b *Bus) Cancel(owner, id string) {
	b.enqueue("cancel:"+id, cancelsChannel, message{Owner: owner, ID: id})
}

// Receive registers what to run for the other bridges' transfer events
// and cancels (transfer.Bus). They run on the receiving goroutine, one at
// a time, and must not block.
func (b *Bus) Receive(events func(owner string, ev transfer.Event), cancels func(owner, id string)) {
	b.mu.Lock()
	b.onEvent, b.onCancel = events, cancels
	b.mu.Unlock()
}

// EndSession tells the other bridges that owner's session ended here (a
// logout, an expiry), so they end it too. It does not wait for Redis.
func (b *Bus) EndSession(owner string) {
	b.enqueue("end:"+owner, sessionEndsChannel, message{Owner: owner})
}

// OnSessionEnd registers what to run when another bridge ends a session;
// never for this bridge's own EndSession. fn runs on the receiving
// goroutine and must not block.
func (b *Bus) OnSessionEnd(fn func(owner string)) {
	b.mu.Lock()
	b.onEnd = fn
	b.mu.Unlock()
}

// enqueue puts a message in line, replacing one of the same key not yet
// sent: only the latest state of a transfer is worth sending.
func (b *Bus) enqueue(key, channel string, m message) {
	m.From = b.instance
	payload, _ := json.Marshal(m) // strings and numbers: nothing to fail
	b.mu.Lock()
	if _, ok := b.pending[key]; !ok {
		if len(b.order) >= maxPending {
			b.mu.Unlock()
			return
		}
		b.order = append(b.order, key)
	}
	b.pending[key] = outgoing{channel, payload}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // already woken
	}
}

// send publishes what is pending whenever there is some, until Close.
func (b *Bus) send() {
	defer b.wg.Done()
	for {
		select {
		case <-b.wake:
			b.flush()
		case <-b.stop:
			b.flush()
			return
		}
	}
}

// flush publishes what is pending, in one round trip; on failure it is
// dropped.
func (b *Bus) flush() {
	b.mu.Lock()
	out := make([]outgoing, 0, len(b.order))
	for _, key := range b.order {
		out = append(out, b.pending[key])
	}
	clear(b.pending)
	b.order = b.order[:0]
	b.mu.Unlock()
	if len(out) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range out {
			p.Publish(ctx, o.channel, o.payload)
		}
		return nil
	})
	if err != nil {
		b.failed(err)
		return
	}
	b.answered()
}

// receive hands the other bridges' messages to the callbacks until the
// subscription is closed. go-redis reconnects by itself. Only sending
// tells an outage and its end: a subscription back before the pool's
// connections would call Redis back while sends still fail.
func (b *Bus) receive(ch <-chan *redis.Message) {
	defer b.wg.Done()
	for m := range ch {
		b.deliver(m)
	}
}

// deliver runs the callback a message is for, unless this bridge sent it.
func (b *Bus) deliver(msg *redis.Message) {
	var m message
	if err := json.Unmarshal([]byte(msg.Payload), &m); err != nil {
		b.log.Debug("redis: a message that is not ours", "channel", msg.Channel, "err", err)
		return
	}
	if m.From == b.instance || m.Owner == "" {
		return
	}
	b.mu.Lock()
	onEvent, onCancel, onEnd := b.onEvent, b.onCancel, b.onEnd
	b.mu.Unlock()
	switch {
	case msg.Channel == eventsChannel && m.Event != nil && m.Event.ID != "" && onEvent != nil:
		onEvent(m.Owner, *m.Event)
	case msg.Channel == cancelsChannel && m.ID != "" && onCancel != nil:
		onCancel(m.Owner, m.ID)
	case msg.Channel == sessionEndsChannel && onEnd != nil:
		onEnd(m.Owner)
	}
}

// failed notes an outage: one warning until a send succeeds again.
func (b *Bus) failed(err error) {
	b.mu.Lock()
	first := !b.down
	b.down = true
	b.mu.Unlock()
	if first {
		b.log.Warn("redis is unreachable: transfer events, cancels and session ends are not shared with the other bridges until it is back", "err", err)
	}
}

// answered notes a send that succeeded, and says so after an outage.
func (b *Bus) answered() {
	b.mu.Lock()
	back := b.down
	b.down = false
	b.mu.Unlock()
	if back {
		b.log.Info("redis is reachable again: transfer events, cancels and session ends are shared with the other bridges")
	}
}
