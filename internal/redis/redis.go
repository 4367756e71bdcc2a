// Package redis connects the workbook to Redis: a real server from REDIS_URL,
// or an embedded Redis-protocol server (miniredis) on loopback. Either way the
// rest of the code talks to it through a go-redis client over TCP, so nothing
// above this package knows which one it has. The embedded server requires a
// random password of its own, so other processes on the machine cannot use it.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// Conn is a connected client and, when embedded, the server behind it.
type Conn struct {
	Client   *goredis.Client
	Embedded bool
	server   *miniredis.Miniredis
	sweeper  *sweeper // nil when this miniredis release cannot be swept
	stop     chan struct{}
	wg       sync.WaitGroup
}

// Open connects to url, or starts the embedded server when url is empty.
func Open(ctx context.Context, url string) (*Conn, error) {
	if url == "" {
		return openEmbedded(ctx)
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: REDIS_URL: %w", err)
	}
	c := &Conn{Client: goredis.NewClient(opt)}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Client.Ping(pctx).Err(); err != nil {
		_ = c.Client.Close()
		return nil, fmt.Errorf("redis: %s does not answer: %w", opt.Addr, err)
	}
	return c, nil
}

// openEmbedded starts the in-process server on a loopback port. Every
// process on the machine can reach that port, so the server asks for a
// password drawn at random for this run, which only our own client knows.
func openEmbedded(ctx context.Context) (*Conn, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("redis: embedded server password: %w", err)
	}
	password := hex.EncodeToString(b[:])
	m := miniredis.NewMiniRedis()
	m.RequireAuth(password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("redis: embedded server: %w", err)
	}
	c := &Conn{
		Client:   goredis.NewClient(&goredis.Options{Addr: m.Addr(), Password: password, Protocol: 2}),
		Embedded: true,
		server:   m,
		stop:     make(chan struct{}),
	}
	if sw, err := newSweeper(m); err == nil {
		c.sweeper = sw
	} else {
		slog.Warn("the embedded Redis server's bookkeeping cannot be swept: its memory grows with every key name written", "err", err)
	}
	c.wg.Add(1)
	go c.tick()
	if err := c.Client.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis: embedded server does not answer: %w", err)
	}
	return c, nil
}

// sweepEvery is how often the embedded server's bookkeeping of deleted and
// expired keys is removed.
const sweepEvery = 5 * time.Second

// tick keeps the embedded server like a real one. miniredis keeps TTLs
// frozen until told time has passed: they advance with the wall clock, so
// keys expire as they would on a real server; and what it keeps of keys
// that are gone is swept now and then.
func (c *Conn) tick() {
	defer c.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	last, swept := time.Now(), time.Now()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.server.FastForward(now.Sub(last))
			last = now
			if c.sweeper != nil && now.Sub(swept) >= sweepEvery {
				c.sweeper.sweep()
				swept = now
			}
		}
	}
}

// Addr is the server's host:port.
func (c *Conn) Addr() string { return c.Client.Options().Addr }

// Close closes the client and stops the embedded server.
func (c *Conn) Close() error {
	err := c.Client.Close()
	if c.server != nil {
		close(c.stop)
		c.wg.Wait()
		c.server.Close()
	}
	return err
}
