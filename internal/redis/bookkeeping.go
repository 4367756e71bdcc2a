package redis

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// The embedded server (miniredis) keeps two maps of bookkeeping per key
// name, the version WATCH compares and the time of last use, and never
// removes a name from the version map, not even when the key is deleted
// or expires. Labs whose limiters name a key per window write a new name
// every window, so those maps grew without end (93 → 220 MB in ten
// minutes of lab load). sweeper removes the entries of names that no key
// has any more. miniredis offers no way to do this, so it reaches the maps
// through reflection, under the server's own lock; when a release changes
// the layout, newSweeper says so and the server runs without the sweep.
//
// A name under WATCH keeps its version: a transaction that watched it must
// still see that it changed. Such names are remembered here (the workbook
// itself never uses WATCH, so the set stays empty).
type sweeper struct {
	m *miniredis.Miniredis

	mu      sync.Mutex
	watched map[string]bool
}

// bookkeepingMaps are the per-name maps sweeper keeps in step with the
// keys; "keys" is the master map of the names that exist.
var bookkeepingMaps = []string{"keyVersion", "lru"}

func newSweeper(m *miniredis.Miniredis) (*sweeper, error) {
	s := &sweeper{m: m, watched: map[string]bool{}}
	m.Lock()
	_, err := s.databases()
	m.Unlock()
	if err != nil {
		return nil, err
	}
	m.Server().SetPreHook(s.noteWatch)
	return s, nil
}

// noteWatch remembers the names a client WATCHes; it runs before every
// command and handles none itself.
func (s *sweeper) noteWatch(_ *server.Peer, cmd string, args ...string) bool {
	if len(cmd) == 5 && strings.EqualFold(cmd, "WATCH") {
		s.mu.Lock()
		for _, k := range args {
			s.watched[k] = true
		}
		s.mu.Unlock()
	}
	return false
}

// sweep removes the bookkeeping of names that are no key any more and
// returns how many entries went.
func (s *sweeper) sweep() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.Lock()
	defer s.m.Unlock()
	dbs, err := s.databases()
	if err != nil {
		return 0
	}
	removed := 0
	for _, db := range dbs {
		for _, name := range bookkeepingMaps {
			removed += dropMissing(db[name], db["keys"], s.watched)
		}
	}
	return removed
}

// dropMissing deletes from m every name that keys lacks, except those in keep.
func dropMissing(m, keys reflect.Value, keep map[string]bool) int {
	var stale []reflect.Value
	iter := m.MapRange()
	for iter.Next() {
		k := iter.Key()
		if !keys.MapIndex(k).IsValid() && !keep[k.String()] {
			stale = append(stale, k)
		}
	}
	for _, k := range stale {
		m.SetMapIndex(k, reflect.Value{})
	}
	return len(stale)
}

// entries counts the bookkeeping entries and the keys, for tests and logs.
func (s *sweeper) entries() (bookkeeping, keys int) {
	s.m.Lock()
	defer s.m.Unlock()
	dbs, err := s.databases()
	if err != nil {
		return 0, 0
	}
	for _, db := range dbs {
		keys += db["keys"].Len()
		for _, name := range bookkeepingMaps {
			bookkeeping += db[name].Len()
		}
	}
	return bookkeeping, keys
}

// databases are the maps of each of the server's databases, by field
// name, usable for deleting; the caller holds the server's lock.
func (s *sweeper) databases() ([]map[string]reflect.Value, error) {
	dbs := reachable(reflect.ValueOf(s.m).Elem().FieldByName("dbs"))
	if !dbs.IsValid() || dbs.Kind() != reflect.Map {
		return nil, fmt.Errorf("redis: the embedded server has no map of databases")
	}
	var out []map[string]reflect.Value
	iter := dbs.MapRange()
	for iter.Next() {
		db := iter.Value()
		if db.Kind() != reflect.Pointer || db.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("redis: the embedded server's database is a %s", db.Kind())
		}
		maps := map[string]reflect.Value{}
		for _, name := range append([]string{"keys"}, bookkeepingMaps...) {
			f := reachable(db.Elem().FieldByName(name))
			if !f.IsValid() || f.Kind() != reflect.Map || f.Type().Key().Kind() != reflect.String {
				return nil, fmt.Errorf("redis: the embedded server's database has no map %q", name)
			}
			maps[name] = f
		}
		out = append(out, maps)
	}
	return out, nil
}

// reachable makes an unexported field usable: deleting from a map through
// reflection needs a value that did not come through an unexported field.
func reachable(v reflect.Value) reflect.Value {
	if !v.IsValid() || !v.CanAddr() {
		return v
	}
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}
