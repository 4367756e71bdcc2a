package cache

import (
	"context"
	"sync"
	"time"
)

// memory is the cache's memory budget: at most max_items items, evicting
// the least recently used one beyond it, as Redis does under maxmemory
// with allkeys-lru. The instance keeps the bookkeeping (each item's last
// use and expiry) because its keys share a Redis with others, so Redis's
// own maxmemory cannot be the instance's. Ties in last use (reads at the
// same instant of a check's clock) go to the lower item id, so a check
// evicts the same items in every grading.
type memory struct {
	max int // 0: no budget
	mu  sync.Mutex
	// entries: item → last use and expiry.
	entries   map[int]memEntry
	peak      int
	evictions int64
}

type memEntry struct{ used, expiry time.Time }

func newMemory(max int) *memory { return &memory{max: max, entries: map[int]memEntry{}} }

// touch records a hit on item id at now.
func (m *memory) touch(id int, now time.Time) {
	m.mu.Lock()
	if e, ok := m.entries[id]; ok {
		e.used = now
		m.entries[id] = e
	}
	m.mu.Unlock()
}

// stored records that item id was cached at now until expiry, and gives
// the items to evict to stay within the budget.
func (m *memory) stored(id int, now, expiry time.Time) (evict []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[id] = memEntry{used: now, expiry: expiry}
	for id, e := range m.entries { // expired entries leave on their own
		if !e.expiry.After(now) {
			delete(m.entries, id)
		}
	}
	for m.max > 0 && len(m.entries) > m.max {
		victim := 0
		for k, e := range m.entries {
			if k == id {
				continue
			}
			if v, ok := m.entries[victim]; victim == 0 || !ok || e.used.Before(v.used) || (e.used.Equal(v.used) && k < victim) {
				victim = k
			}
		}
		delete(m.entries, victim)
		m.evictions++
		evict = append(evict, victim)
	}
	m.peak = max(m.peak, len(m.entries))
	return evict
}

// forget drops an item deleted from the cache.
func (m *memory) forget(id int) {
	m.mu.Lock()
	delete(m.entries, id)
	m.mu.Unlock()
}

// usage reports the items cached at now, the most there have been, and
// how many were evicted.
func (m *memory) usage(now time.Time) (items, peak int, evictions int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		if e.expiry.After(now) {
			items++
		}
	}
	return items, m.peak, m.evictions
}

// remember books an item just stored in Redis against the memory budget
// and deletes what the budget evicts.
func (in *instance) remember(ctx context.Context, id int, expiry time.Time) {
	for _, v := range in.mem.stored(id, in.now(), expiry) {
		in.env.Metrics.Count("evictions", 1)
		if err := in.redis().Del(ctx, in.itemKey(v)).Err(); err != nil && ctx.Err() == nil {
			in.redisError("evicting an item over max_items", err)
		}
	}
}
