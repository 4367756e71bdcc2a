package shortener

import "sync"

// localCache is the in-process tier: a bounded map of codes, split into
// stripes so concurrent redirects rarely wait for each other. A full
// stripe drops an arbitrary entry (Go's map order is random), which is
// close enough to random eviction for a hot set that fits many times over.
type localCache struct {
	perStripe int
	stripes   [localStripes]localStripe
}

const localStripes = 64

type localStripe struct {
	mu sync.RWMutex
	m  map[string]localEntry
}

type localEntry struct {
	e     entry
	until int64 // Unix ms
}

func newLocalCache(capacity int) *localCache {
	c := &localCache{perStripe: max(1, capacity/localStripes)}
	for i := range c.stripes {
		c.stripes[i].m = make(map[string]localEntry)
	}
	return c
}

// stripeOf hashes code with FNV-1a inline: no allocation on the hot path.
func (c *localCache) stripeOf(code string) *localStripe {
	h := uint32(2166136261)
	for i := 0; i < len(code); i++ {
		h ^= uint32(code[i])
		h *= 16777619
	}
	return &c.stripes[h%localStripes]
}

func (c *localCache) get(code string, now int64) (entry, bool) {
	s := c.stripeOf(code)
	s.mu.RLock()
	le, ok := s.m[code]
	s.mu.RUnlock()
	if !ok || now >= le.until {
		return entry{}, false
	}
	return le.e, true
}

func (c *localCache) put(code string, e entry, until int64) {
	s := c.stripeOf(code)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[code]; !ok && len(s.m) >= c.perStripe {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[code] = localEntry{e: e, until: until}
}

func (c *localCache) del(code string) {
	s := c.stripeOf(code)
	s.mu.Lock()
	delete(s.m, code)
	s.mu.Unlock()
}

func (c *localCache) clear() {
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *localCache) len() int {
	n := 0
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
