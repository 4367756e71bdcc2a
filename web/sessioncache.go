package web

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
)

// sessionCacheTTL bounds how long a replica trusts a session it read
// without reading it again. Logout, a password change and a role change
// reach every replica at once through Redis (sessionChannel); the TTL is
// the bound when that message is lost.
const sessionCacheTTL = 5 * time.Second

// maxCachedSessions bounds the cache's memory; beyond it, it starts over.
const maxCachedSessions = 50_000

// learnerCacheTTL bounds how long the store serves a learner's record
// (progress, quiz attempts, cards) without reading it again; changes reach
// every replica at once through sessionChannel ("l:<user id>").
const learnerCacheTTL = 30 * time.Second

// sessionChannel is the Redis channel on which replicas announce a
// session ended ("<replica> s:<id>"), an account changed ("<replica>
// u:<user id>") or a learner's record changed ("<replica> l:<user id>").
const sessionChannel = redis.ChangesChannel

// sessionCache keeps the sessions this replica read lately with their
// accounts, so a signed-in request reads neither from the database. It
// serves entries only while it is subscribed to sessionChannel: without
// the subscription it would not hear of a logout elsewhere.
type sessionCache struct {
	rdb  *goredis.Client
	log  *slog.Logger
	now  func() time.Time
	self string // this replica's name in its messages, so it skips its own

	forgetLearner func(userID int64) // drops the store's copy of a learner's record (0: all)

	mu      sync.Mutex
	entries map[string]cachedSession // by session id
	gen     uint64                   // bumped by every forget; a read begun before one is not kept

	live atomic.Bool // subscribed: entries may be served
}

type cachedSession struct {
	sess  store.Session
	user  store.User
	until time.Time
}

func newSessionCache(rdb *goredis.Client, log *slog.Logger, now func() time.Time, forgetLearner func(int64)) *sessionCache {
	if forgetLearner == nil {
		forgetLearner = func(int64) {}
	}
	c := &sessionCache{rdb: rdb, log: log, now: now, self: auth.NewToken()[:16], entries: map[string]cachedSession{},
		forgetLearner: forgetLearner}
	go c.listen(context.Background())
	return c
}

// get returns the cached session id and its account.
func (c *sessionCache) get(id string) (store.Session, store.User, bool) {
	if !c.live.Load() {
		return store.Session{}, store.User{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.until) {
		return store.Session{}, store.User{}, false
	}
	return e.sess, e.user, true
}

// generation is read before the database, and handed to put.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps what was read, unless something was forgotten since gen: the
// read may predate it.
func (c *sessionCache) put(gen uint64, sess store.Session, user store.User) {
	if !c.live.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[sess.ID] = cachedSession{sess: sess, user: user, until: c.now().Add(sessionCacheTTL)}
}

// touched records a last-seen time written to the database.
func (c *sessionCache) touched(id string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		e.sess.LastSeenAt = at
		c.entries[id] = e
	}
}

// forget drops what changed here and tells the other replicas; the store
// calls it after every change to an account or its sessions.
func (c *sessionCache) forget(ctx context.Context, ch store.AccountChange) {
	msg := "s:" + ch.SessionID
	if ch.UserID != 0 {
		msg = "u:" + strconv.FormatInt(ch.UserID, 10)
	}
	c.apply(msg)
	c.announce(ctx, c.self+" "+msg)
}

// watch drops copies when the store changes an account or a session,
// and keeps learners' records on the same terms as sessions: served only
// while this replica hears the others' changes.
func (c *sessionCache) watch(st *store.Store) {
	st.OnAccountChange(c.forget)
	st.CacheLearners(learnerCacheTTL, c.live.Load)
	st.OnLearnerChange(c.learnerChanged)
}

// learnerChanged tells the other replicas that a learner's record changed
// here; the store has dropped its own copy.
func (c *sessionCache) learnerChanged(ctx context.Context, userID int64) {
	if err := redis.AnnounceLearner(ctx, c.rdb, c.self, userID); err != nil {
		c.log.Warn("announcing a learner's change to the other replicas", "err", err)
	}
}

func (c *sessionCache) announce(ctx context.Context, msg string) {
	if err := c.rdb.Publish(context.WithoutCancel(ctx), sessionChannel, msg).Err(); err != nil {
		// The others find out within sessionCacheTTL.
		c.log.Warn("announcing a session change to the other replicas", "err", err)
	}
}

// apply drops what msg names.
func (c *sessionCache) apply(msg string) {
	kind, arg, _ := strings.Cut(msg, ":")
	uid, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		uid = 0
	}
	switch kind {
	case "l":
		c.forgetLearner(uid)
		return
	case "u":
		c.forgetLearner(uid)
	case "s":
	default:
		c.forgetLearner(0)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch kind {
	case "s":
		delete(c.entries, arg)
	case "u":
		if uid == 0 {
			clear(c.entries)
			return
		}
		for id, e := range c.entries {
			if e.user.ID == uid {
				delete(c.entries, id)
			}
		}
	default:
		clear(c.entries)
	}
}

// reset forgets everything, and whether it may serve.
func (c *sessionCache) reset(live bool) {
	c.forgetLearner(0)
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
	c.live.Store(live)
}

// listen follows sessionChannel until the Redis client is closed. While
// it is not subscribed the cache serves nothing; on each subscription it
// starts empty, since messages sent in between are lost.
func (c *sessionCache) listen(ctx context.Context) {
	for {
		err := c.follow(ctx)
		c.reset(false)
		if errors.Is(err, goredis.ErrClosed) || ctx.Err() != nil {
			return
		}
		c.log.Warn("session changes from other replicas: subscription lost; reading sessions from the database until it is back", "err", err)
		time.Sleep(time.Second)
	}
}

func (c *sessionCache) follow(ctx context.Context) error {
	ps := c.rdb.Subscribe(ctx, sessionChannel)
	defer ps.Close()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			c.reset(m.Kind == "subscribe")
		case *goredis.Message:
			from, msg, _ := strings.Cut(m.Payload, " ")
			if from != c.self {
				c.apply(msg)
			}
		}
	}
}
