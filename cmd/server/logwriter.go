package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// Every request writes a line to the log. Written one by one, those lines
// cost a system call each, a good part of a small request's time; an
// asyncWriter hands them to a goroutine that writes whatever has gathered
// in one call: at a few requests a second each line leaves at once, under
// load many leave together. Lines other than request lines are written
// before the call that logs them returns (flushingHandler), so what the
// server announces is in the log before it acts on it.

// maxPendingLog bounds the bytes waiting for the writer; beyond it a
// request line waits for the write in progress (the log is never dropped).
const maxPendingLog = 1 << 20

type asyncWriter struct {
	out io.Writer

	mu      sync.Mutex
	cond    *sync.Cond // signalled when pending grows, a write ends, or closing
	pending []byte
	writing bool
	closed  bool
	done    chan struct{}
}

func newAsyncWriter(out io.Writer) *asyncWriter {
	w := &asyncWriter{out: out, done: make(chan struct{})}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// Write queues p; after Close it writes p directly.
func (w *asyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	for len(w.pending) > maxPendingLog && !w.closed {
		w.cond.Wait()
	}
	w.pending = append(w.pending, p...)
	w.cond.Broadcast()
	return len(p), nil
}

// Flush returns once everything written before it is out.
func (w *asyncWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.pending) > 0 || w.writing) && !w.closed {
		w.cond.Wait()
	}
}

// Close writes what is pending and stops the goroutine.
func (w *asyncWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	<-w.done
	return nil
}

func (w *asyncWriter) run() {
	defer close(w.done)
	var spare []byte
	w.mu.Lock()
	for {
		for len(w.pending) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.pending) == 0 && w.closed {
			w.mu.Unlock()
			return
		}
		batch := w.pending
		w.pending, spare = spare[:0], nil
		w.writing = true
		w.mu.Unlock()
		_, _ = w.out.Write(batch) // a log that cannot be written has nowhere to say so
		w.mu.Lock()
		w.writing = false
		spare = batch
		w.cond.Broadcast()
	}
}

// flushingHandler writes every record but the request lines through to
// the log before returning.
type flushingHandler struct {
	slog.Handler
	w *asyncWriter
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level > slog.LevelInfo || r.Message != "request" {
		h.w.Flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(as), h.w}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.w}
}
