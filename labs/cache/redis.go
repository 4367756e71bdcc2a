package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// entry is a cached item: the item plus what XFetch needs, how long the
// last recomputation took and when the entry expires.
type entry struct {
	Item
	DeltaMS  float64 `json:"delta_ms"`
	ExpiryMS int64   `json:"expiry_ms"` // unix milliseconds
}

// errCorrupt is a cached value that does not decode: treated as a miss,
// deleted and counted, never served as a zero-valued item.
var errCorrupt = errors.New("undecodable cache entry")

// Keys, all under the instance's prefix.
func (in *instance) itemKey(id int) string { return in.env.Prefix + "item:" + strconv.Itoa(id) }
func (in *instance) lockKey(id int) string { return in.itemKey(id) + ":lock" }

// floorsKey is a hash of item id to the newest version a writer has put in
// place; the fill guard refuses to cache anything older.
func (in *instance) floorsKey() string { return in.env.Prefix + "floors" }

// versionsKey is a hash of item id to the number of write-behind writes, the
// item's version sequence while the database lags behind the cache.
func (in *instance) versionsKey() string { return in.env.Prefix + "versions" }

// streamKey is the durable write-behind queue.
func (in *instance) streamKey() string { return in.env.Prefix + "writes" }

// cacheGet returns the cached item, goredis.Nil on a true miss, errCorrupt
// for an entry that does not decode, or the Redis error. An entry past its
// expiry on the instance's clock is a miss even if Redis still holds it
// (see redisTTL); on the real clock Redis has dropped it by then anyway.
func (in *instance) cacheGet(ctx context.Context, id int) (entry, error) {
	raw, err := in.redis().Get(ctx, in.itemKey(id)).Bytes()
	if err != nil {
		return entry{}, err // goredis.Nil included: the caller tells them apart
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil || e.ID != id || e.Version < 1 {
		return entry{}, errCorrupt
	}
	if e.ExpiryMS <= in.now().UnixMilli() {
		return entry{}, goredis.Nil
	}
	return e, nil
}

func (in *instance) newEntry(it Item, delta time.Duration) entry {
	return entry{Item: it, DeltaMS: float64(delta.Microseconds()) / 1000,
		ExpiryMS: in.now().Add(in.cfg.ttl).UnixMilli()}
}

// putScript stores an entry unless a writer has already put a newer
// version in place; a writer's put (ARGV[5] = "1") also raises the floor.
// Reads and writes of the floor and the entry are one atomic step, so a
// reader that read the database before a write can never overwrite it.
var putScript = goredis.NewScript(`
local floor = tonumber(redis.call("HGET", KEYS[2], ARGV[1]) or "0")
local v = tonumber(ARGV[2])
if v < floor then return 0 end
if ARGV[5] == "1" then redis.call("HSET", KEYS[2], ARGV[1], ARGV[2]) end
redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
return 1`)

// invalidateScript deletes an entry after a database commit and leaves the
// committed version behind as the floor (a tombstone), so a fill carrying a
// row read before the commit is refused.
var invalidateScript = goredis.NewScript(`
local floor = tonumber(redis.call("HGET", KEYS[2], ARGV[1]) or "0")
if tonumber(ARGV[2]) > floor then redis.call("HSET", KEYS[2], ARGV[1], ARGV[2]) end
redis.call("DEL", KEYS[1])
return 1`)

// queueWriteScript is a write-behind write: the cache update and, for the
// durable queue, the stream entry happen in one atomic step, so there is
// no moment at which an acknowledged write is in the cache but not queued.
// It returns -1 when the stream is full.
var queueWriteScript = goredis.NewScript(`
if ARGV[6] == "1" and redis.call("XLEN", KEYS[3]) >= tonumber(ARGV[7]) then return -1 end
local floor = tonumber(redis.call("HGET", KEYS[2], ARGV[1]) or "0")
if tonumber(ARGV[2]) > floor then redis.call("HSET", KEYS[2], ARGV[1], ARGV[2]) end
redis.call("SET", KEYS[1], ARGV[3], "PX", ARGV[4])
if ARGV[6] == "1" then
  redis.call("XADD", KEYS[3], "*", "w", ARGV[5])
end
return 1`)

// releaseScript deletes a lock only if it still holds our token: a holder
// that overran its TTL must not delete the next holder's lock.
var releaseScript = goredis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// cacheFill stores what a reader loaded. It reports whether the entry was
// stored (false: the guard refused an older version).
func (in *instance) cacheFill(ctx context.Context, e entry) (bool, error) {
	return in.put(ctx, e, false)
}

// cacheWrite stores what a write-through writer committed.
func (in *instance) cacheWrite(ctx context.Context, e entry) (bool, error) {
	return in.put(ctx, e, true)
}

func (in *instance) put(ctx context.Context, e entry, raise bool) (bool, error) {
	stored, err := in.putEntry(ctx, e, raise)
	if stored && err == nil {
		in.remember(ctx, e.ID, time.UnixMilli(e.ExpiryMS))
	}
	return stored, err
}

func (in *instance) putEntry(ctx context.Context, e entry, raise bool) (bool, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("encode entry: %w", err) // never cache what did not encode
	}
	if in.cfg.guard == GuardNone {
		if err := in.redis().Set(ctx, in.itemKey(e.ID), raw, in.redisTTL(in.cfg.ttl)).Err(); err != nil {
			return false, err
		}
		return true, nil
	}
	flag := "0"
	if raise {
		flag = "1"
	}
	n, err := putScript.Run(ctx, in.redis(), []string{in.itemKey(e.ID), in.floorsKey()},
		e.ID, e.Version, raw, in.redisTTL(in.cfg.ttl).Milliseconds(), flag).Int()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// cacheInvalidate removes an item after its database commit.
func (in *instance) cacheInvalidate(ctx context.Context, id int, version int64) error {
	in.mem.forget(id)
	if in.cfg.guard == GuardNone {
		return in.redis().Del(ctx, in.itemKey(id)).Err()
	}
	return invalidateScript.Run(ctx, in.redis(), []string{in.itemKey(id), in.floorsKey()}, id, version).Err()
}

// newToken is a lock holder's identity.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return hex.EncodeToString(b)
}

// shouldRefresh is XFetch's test: recompute early when
// now − delta × beta × ln(u) ≥ expiry, with u uniform in (0, 1]. The gap is
// an exponential draw with mean delta × beta, so the chance rises as expiry
// nears and slow recomputations start earlier.
func shouldRefresh(e entry, beta float64, nowMS int64, u float64) bool {
	gap := e.DeltaMS * beta * -math.Log(u)
	return float64(nowMS)+gap >= float64(e.ExpiryMS)
}
