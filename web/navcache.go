package web

import (
	"sync"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
)

// navCacheTTL bounds how long a replica reuses the nav's counts it read
// for a user while this process wrote nothing: what other replicas and
// grader processes change shows within it.
const navCacheTTL = 2 * time.Second

// maxNavCached bounds the cache's memory; beyond it, it starts over.
const maxNavCached = 50_000

// navCache keeps each signed-in user's nav record (cards, notices,
// submissions waiting) with the store's write version it was read at:
// any write through this process's store makes every entry stale, so a
// badge here is never behind what this process did.
type navCache struct {
	mu      sync.Mutex
	entries map[int64]navEntry
}

type navEntry struct {
	rec     store.NavRecord
	version uint64
	read    time.Time // wall clock: the bound is real time, whatever the app's clock
}

func newNavCache() *navCache { return &navCache{entries: map[int64]navEntry{}} }

// get returns user's record when it was read at version and lately.
func (c *navCache) get(user int64, version uint64) (store.NavRecord, bool) {
	c.mu.Lock()
	e, ok := c.entries[user]
	c.mu.Unlock()
	if !ok || e.version != version || time.Since(e.read) >= navCacheTTL {
		return store.NavRecord{}, false
	}
	return e.rec, true
}

// put keeps a record read at version (read before the query).
func (c *navCache) put(user int64, version uint64, rec store.NavRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxNavCached {
		clear(c.entries)
	}
	c.entries[user] = navEntry{rec: rec, version: version, read: time.Now()}
}
