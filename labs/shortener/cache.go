package shortener

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// localCache is the in-process tier: a bounded map of codes, split into
// stripes so concurrent redirects rarely wait for each other. Each stripe
// holds capacity/localStripes codes and evicts its least recently used
// one when full, so a hot code stays however small the budget, and the
// same reads evict the same codes every time.
type localCache struct {
	perStripe int
	stripes   [localStripes]localStripe
	n, peak   atomic.Int64 // codes held now, and the most ever held
}

const localStripes = 64

type localStripe struct {
	mu  sync.RWMutex
	m   map[string]*list.Element
	lru list.List // of *localItem, most recently used at the front
}

type localItem struct {
	code  string
	e     entry
	until int64 // Unix ms
}

func newLocalCache(capacity int) *localCache {
	c := &localCache{perStripe: max(1, capacity/localStripes)}
	for i := range c.stripes {
		c.stripes[i].m = make(map[string]*list.Element)
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

// get finds code. A hot code is usually the stripe's most recently used
// already, so it is read under the read lock alone; only a code further
// back takes the write lock to move to the front.
func (c *localCache) get(code string, now int64) (entry, bool) {
	s := c.stripeOf(code)
	s.mu.RLock()
	el, ok := s.m[code]
	var it localItem
	front := false
	if ok {
		it = *el.Value.(*localItem)
		front = s.lru.Front() == el
	}
	s.mu.RUnlock()
	if !ok || now >= it.until {
		return entry{}, false
	}
	if !front {
		s.mu.Lock()
		if s.m[code] == el {
			s.lru.MoveToFront(el)
		}
		s.mu.Unlock()
	}
	return it.e, true
}

func (c *localCache) put(code string, e entry, until int64) {
	s := c.stripeOf(code)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.m[code]; ok {
		it := el.Value.(*localItem)
		it.e, it.until = e, until
		s.lru.MoveToFront(el)
		return
	}
	if len(s.m) >= c.perStripe {
		if last := s.lru.Back(); last != nil {
			delete(s.m, s.lru.Remove(last).(*localItem).code)
			c.n.Add(-1)
		}
	}
	s.m[code] = s.lru.PushFront(&localItem{code: code, e: e, until: until})
	if n := c.n.Add(1); n > c.peak.Load() {
		c.raisePeak(n)
	}
}

// raisePeak records n as the most codes held, unless more were.
func (c *localCache) raisePeak(n int64) {
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (c *localCache) del(code string) {
	s := c.stripeOf(code)
	s.mu.Lock()
	if el, ok := s.m[code]; ok {
		s.lru.Remove(el)
		delete(s.m, code)
		c.n.Add(-1)
	}
	s.mu.Unlock()
}

func (c *localCache) clear() {
	for i := range c.stripes {
		s := &c.stripes[i]
		s.mu.Lock()
		c.n.Add(-int64(len(s.m)))
		clear(s.m)
		s.lru.Init()
		s.mu.Unlock()
	}
}

func (c *localCache) len() int { return int(c.n.Load()) }

// capacity is the most codes the stripes can hold together.
func (c *localCache) capacity() int { return c.perStripe * localStripes }
