package cache

import (
	"context"
	"errors"
	"net"
	"net/http"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// What a read does when Redis fails (the redis_errors field).
const (
	// RedisErrorsFallback: a Redis error is not a miss; the read goes to
	// the database through a small gate and fills nothing.
	RedisErrorsFallback = "fallback"
	// RedisErrorsMiss is the module's cache-aside code: any error from GET
	// is taken for a miss, so every read goes to the database and then
	// tries to fill a cache that is failing.
	RedisErrorsMiss = "miss"
)

// errRedisDown is every command's answer while the lab's Redis is made to
// fail (PUT /redis {"down": true}).
var errRedisDown = errors.New("Redis is down (the lab made it fail)")

// newDeadRedis is a client whose every command fails at once, before it
// would dial: the instance's Redis while it is made to fail.
func newDeadRedis() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: "redis-down.invalid:6379", MaxRetries: -1,
		Dialer: func(context.Context, string, string) (net.Conn, error) { return nil, errRedisDown }})
	c.AddHook(downHook{})
	return c
}

// downHook fails every command and pipeline without a connection.
type downHook struct{}

func (downHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (downHook) ProcessHook(goredis.ProcessHook) goredis.ProcessHook {
	return func(_ context.Context, cmd goredis.Cmder) error {
		cmd.SetErr(errRedisDown)
		return errRedisDown
	}
}

func (downHook) ProcessPipelineHook(goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(_ context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			c.SetErr(errRedisDown)
		}
		return errRedisDown
	}
}

// redis is the client the instance talks to: its Redis, or the failing one
// while the lab makes Redis fail.
func (in *instance) redis() *goredis.Client {
	if in.redisDown.Load() {
		return in.deadRedis
	}
	return in.rdb
}

// RedisFault is PUT /redis's body and answer.
type RedisFault struct {
	Down bool `json:"down"`
}

// handleRedis makes the instance's Redis fail, or recover: {"down": true}
// fails every command at once (as a Redis that refuses connections does),
// {"down": false} ends it.
func (in *instance) handleRedis(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Down *bool `json:"down"`
	}
	if err := labhttp.DecodeJSON(r, &body, maxBodyBytes); err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	if body.Down == nil {
		labhttp.WriteError(w, r, &labhttp.Error{Status: http.StatusUnprocessableEntity, Code: labhttp.CodeInvalid,
			Message: "Please correct the named fields.", Fields: map[string]string{"down": `Required: true makes Redis fail, false brings it back, as in {"down": true}.`}})
		return
	}
	was := in.redisDown.Swap(*body.Down)
	switch {
	case *body.Down && !was:
		in.env.Metrics.Eventf("error", "Redis made to fail: every command of this instance fails at once until PUT redis {\"down\": false}; redis_errors %s decides what reads do",
			in.cfg.redisErrors)
	case !*body.Down && was:
		in.env.Metrics.Eventf("info", "Redis is back")
	}
	labhttp.WriteJSON(w, http.StatusOK, RedisFault{Down: *body.Down})
}

// missOnError serves a read whose GET failed as the module's code does: as
// a miss, from the database, then trying to fill the failing cache.
func (in *instance) missOnError(ctx context.Context, id int, err error) (Item, string, error) {
	in.redisError("cache read (taken for a miss)", err)
	in.miss()
	it, err := in.loadAndFill(ctx, id)
	return it, srcDB, err
}
