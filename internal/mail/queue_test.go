package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sdworkbook/workbook/internal/mail/smtptest"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	var lb logBuffer
	return slog.New(slog.NewTextHandler(&lb, &slog.HandlerOptions{Level: slog.LevelDebug})), &lb
}

func wait(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal("the queue did not finish:", err)
	}
}

func task(id string, m *Message) Task {
	return Task{Kind: "test", RequestID: id, Attrs: []any{"user_id", 7},
		Build: func(context.Context) (*Message, error) { return m, nil }}
}

// A server that asks us to come back later gets the message on a retry;
// one that refuses it for good is not asked again; both outcomes are in
// the log with the request id.
func TestQueueRetriesWhatTheServerMayGetOver(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Refuse: func(n int) *smtp.SMTPError {
		switch n {
		case 1, 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		case 4:
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		}
		return nil
	}})
	log, lines := newLog()
	q := NewQueue(mustSender(t, srv, nil), log, 10, 2)
	q.Backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	if err := q.Enqueue(task("req-1", &sample)); err != nil {
		t.Fatal(err)
	}
	wait(t, q)
	if got := len(srv.Messages()); got != 1 {
		t.Fatalf("%d messages, want 1 after two refusals", got)
	}
	out := lines.String()
	if strings.Count(out, "retrying") != 2 || !strings.Contains(out, `msg="email sent" kind=test request_id=req-1 user_id=7 attempts=3`) {
		t.Errorf("log:\n%s", out)
	}

	if err := q.Enqueue(task("req-2", &sample)); err != nil {
		t.Fatal(err)
	}
	wait(t, q)
	out = lines.String()
	if len(srv.Messages()) != 1 || !strings.Contains(out, `level=ERROR msg="email not sent" kind=test request_id=req-2 user_id=7 attempts=1`) ||
		!strings.Contains(out, "no such mailbox") {
		t.Errorf("permanent refusal, log:\n%s", out)
	}
}

// Nothing to send sends nothing; a task that cannot be prepared is logged.
func TestQueueNothingToSend(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	log, lines := newLog()
	q := NewQueue(mustSender(t, srv, nil), log, 10, 2)
	for i := 0; i < 5; i++ {
		if err := q.Enqueue(task("none", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(Task{Kind: "test", RequestID: "broken", Build: func(context.Context) (*Message, error) {
		return nil, errors.New("database down")
	}}); err != nil {
		t.Fatal(err)
	}
	wait(t, q)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages", n)
	}
	if out := lines.String(); !strings.Contains(out, `level=ERROR msg="email not sent: it could not be prepared" kind=test request_id=broken err="database down"`) {
		t.Errorf("log:\n%s", out)
	}
}

// blocker is a deliverer that holds every message until released.
type blocker struct {
	release chan struct{}
	mu      sync.Mutex
	got     int
}

func (b *blocker) Send(ctx context.Context, _ Message) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.got++
	b.mu.Unlock()
	return nil
}

// A stuck server fills the queue: then Enqueue says so at once instead of
// waiting, and the queue drains when the server comes back.
func TestQueueFullAndDrain(t *testing.T) {
	log, _ := newLog()
	b := &blocker{release: make(chan struct{})}
	q := NewQueue(b, log, 3, 1)
	accepted := 0
	for i := 0; i < 10; i++ {
		switch err := q.Enqueue(task("x", &sample)); {
		case err == nil:
			accepted++
		case !errors.Is(err, ErrFull):
			t.Fatal(err)
		}
	}
	// One on the worker (once it took it) and three waiting.
	if accepted < 3 || accepted > 4 {
		t.Errorf("accepted %d of 10 with room for 3 and one worker", accepted)
	}
	close(b.release)
	wait(t, q)
	if b.got != accepted {
		t.Errorf("sent %d of %d", b.got, accepted)
	}
	// Enqueue after an idle spell starts a worker again.
	if err := q.Enqueue(task("y", &sample)); err != nil {
		t.Fatal(err)
	}
	wait(t, q)
	if b.got != accepted+1 {
		t.Errorf("sent %d, want %d", b.got, accepted+1)
	}
}

// Close waits for what is queued until its deadline, then logs the rest
// as not sent, and takes nothing new.
func TestQueueClose(t *testing.T) {
	log, lines := newLog()
	b := &blocker{release: make(chan struct{})}
	q := NewQueue(b, log, 10, 1)
	for i := 0; i < 3; i++ {
		if err := q.Enqueue(task("late", &sample)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); err == nil {
		t.Error("Close reported every email sent while the server held them")
	}
	if err := q.Enqueue(task("after", &sample)); !errors.Is(err, ErrFull) {
		t.Errorf("enqueue after close: %v", err)
	}
	out := lines.String()
	if strings.Count(out, "level=ERROR") != 3 || b.got != 0 {
		t.Errorf("sent %d; log:\n%s", b.got, out)
	}
}
