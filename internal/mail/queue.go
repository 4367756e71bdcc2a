package mail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// ErrFull means the queue holds as many emails as it may: the mail server
// is slow or down. The caller tells the person to try again later.
var ErrFull = errors.New("mail: the outgoing queue is full")

// Task is one email to send. Build makes the message when its turn comes
// (creating, say, the token its link carries); a nil message means there is
// nothing to send, which is how a reset for an unknown address ends.
type Task struct {
	Kind      string // what it is, for the log: "password reset"
	RequestID string // the request that asked for it, for the log
	Attrs     []any  // more for the log (a user id); never a secret
	Build     func(ctx context.Context) (*Message, error)
}

// Deliverer sends one message; *Sender is one.
type Deliverer interface {
	Send(ctx context.Context, m Message) error
}

// Queue sends tasks in the background with a few workers, retrying
// failures the server may get over. Each outcome is logged with the task's
// request id: a message is sent, or its loss is in the log as an error,
// never silent. The queue lives in memory: an email still waiting when the
// process stops is logged as not sent.
type Queue struct {
	send Deliverer
	log  *slog.Logger
	// Backoff lists the waits before each retry; its length is the number
	// of retries.
	Backoff []time.Duration

	tasks   chan Task
	workers chan struct{} // a token per running worker
	ctx     context.Context
	cancel  context.CancelFunc
	closing atomic.Bool

	mu      sync.Mutex
	pending int           // enqueued and not finished
	idle    chan struct{} // closed when pending drops to zero
}

// NewQueue holds up to size waiting tasks and sends with up to workers at
// once. Workers start when there is work and end when there is none, so an
// idle queue costs nothing.
func NewQueue(d Deliverer, log *slog.Logger, size, workers int) *Queue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		send: d, log: log,
		Backoff: []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second},
		tasks:   make(chan Task, max(size, 1)), workers: make(chan struct{}, max(workers, 1)),
		ctx: ctx, cancel: cancel, idle: make(chan struct{}),
	}
	close(q.idle)
	return q
}

// Enqueue adds a task without waiting; ErrFull when there is no room.
func (q *Queue) Enqueue(t Task) error {
	if q.closing.Load() {
		return ErrFull
	}
	q.mu.Lock()
	if q.pending == 0 {
		q.idle = make(chan struct{})
	}
	q.pending++
	q.mu.Unlock()
	select {
	case q.tasks <- t:
	default:
		q.done()
		return ErrFull
	}
	select {
	case q.workers <- struct{}{}:
		go q.work()
	default: // the running workers will get to it
	}
	return nil
}

func (q *Queue) done() {
	q.mu.Lock()
	q.pending--
	if q.pending == 0 {
		close(q.idle)
	}
	q.mu.Unlock()
}

// work sends tasks until none wait, then gives its place back. A task that
// arrives as it leaves finds a place free, or is seen here and taken.
func (q *Queue) work() {
	for {
		select {
		case t := <-q.tasks:
			q.run(t)
			q.done()
			continue
		default:
		}
		<-q.workers
		if len(q.tasks) == 0 {
			return
		}
		select {
		case q.workers <- struct{}{}:
		default:
			return // another worker has it
		}
	}
}

func (q *Queue) run(t Task) {
	attrs := append([]any{"kind", t.Kind, "request_id", t.RequestID}, t.Attrs...)
	if q.ctx.Err() != nil {
		q.log.Error("email not sent: the server is stopping", attrs...)
		return
	}
	bctx, cancel := context.WithTimeout(q.ctx, 30*time.Second)
	m, err := t.Build(bctx)
	cancel()
	if err != nil {
		q.log.Error("email not sent: it could not be prepared", append(attrs, "err", err)...)
		return
	}
	if m == nil {
		q.log.Debug("no email to send", attrs...)
		return
	}
	for attempt := 0; ; attempt++ {
		err = q.send.Send(q.ctx, *m)
		if err == nil {
			q.log.Info("email sent", append(attrs, "attempts", attempt+1)...)
			return
		}
		if Permanent(err) || attempt >= len(q.Backoff) || q.ctx.Err() != nil {
			q.log.Error("email not sent", append(attrs, "attempts", attempt+1, "err", err)...)
			return
		}
		q.log.Warn("email not sent yet; retrying", append(attrs, "attempt", attempt+1, "retry_in", q.Backoff[attempt].String(), "err", err)...)
		select {
		case <-time.After(q.Backoff[attempt]):
		case <-q.ctx.Done():
		}
	}
}

// Wait returns once every enqueued task is finished (sent, given up, or
// found to have nothing to send), or when ctx ends.
func (q *Queue) Wait(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close lets the queued emails go out until ctx ends, then stops the rest:
// those are logged as not sent. Enqueue refuses new tasks from the start.
func (q *Queue) Close(ctx context.Context) error {
	q.closing.Store(true)
	err := q.Wait(ctx)
	q.cancel()
	if err != nil {
		// Let the workers log what they drop before the process ends.
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Wait(wctx)
	}
	return err
}
