package grader

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// channel is the Redis channel a submission's progress is published on,
// so whichever replica holds the learner's stream hears the worker.
func channel(id string) string { return "grader:submission:" + id }

// publish tells listeners that a submission changed: "running", "check",
// or its terminal status. A lost message costs only liveness: pages read
// the state from the database on every update and on reconnect.
func (g *Grader) publish(ctx context.Context, id, what string) {
	if g.rdb == nil {
		return
	}
	if err := g.rdb.Publish(context.WithoutCancel(ctx), channel(id), what).Err(); err != nil {
		g.log.Warn("publishing grading progress", "submission", id, "err", err)
	}
}

// Watch subscribes to a submission's progress. The channel carries what
// changed; stop ends the subscription. Subscribe before reading the state,
// so no change falls between the read and the subscription.
func (g *Grader) Watch(ctx context.Context, id string) (<-chan string, func(), error) {
	ps := g.rdb.Subscribe(ctx, channel(id))
	if _, err := ps.Receive(ctx); err != nil { // the subscription is confirmed
		ps.Close()
		return nil, nil, err
	}
	out := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(out)
		ch := ps.Channel(goredis.WithChannelSize(16))
		for {
			select {
			case <-done:
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				select {
				case out <- m.Payload:
				default: // the reader is behind; it rereads the state anyway
				}
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			close(done)
			ps.Close()
		})
	}
	return out, stop, nil
}
