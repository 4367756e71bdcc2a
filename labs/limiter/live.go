package limiter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's checks judge a learner's service on real time, as
// a client sees it: a request was decided somewhere between when it was
// sent and when its answer came back, and a check counts only what those
// two times prove. A slow or loaded machine then only makes a check more
// lenient; it never fails a correct service.
const (
	// answerWait is how long a check waits for any answer.
	answerWait = 10 * time.Second
	// clockSlack is allowed for clocks: the service decides by its own
	// (Redis TIME, in whole milliseconds), the check by the machine's.
	clockSlack = 100 * time.Millisecond
	// provenSpan is the span in which more than the quota admitted is
	// proof of more than the quota in 2 s.
	provenSpan = quotaWindowMS*time.Millisecond - clockSlack
)

// shot is one request to a service as the check saw it. failOpen is a
// request let through because Redis did not decide it, as the body's
// optional "fail_open" says: the contract lets it through, and no count
// is judged by it.
type shot struct {
	sent, recv time.Time
	status     int
	allowed    bool
	failOpen   bool
	retryAfter string
}

// counted reports a request let through by the count: admitted, and not
// by failing open.
func (s shot) counted() bool { return s.allowed && !s.failOpen }

// took is how long the answer took.
func (s shot) took() time.Duration { return s.recv.Sub(s.sent) }

// noAnswer is a service that did not answer as the contract says: the
// learner's failure, with the sentence the learner reads.
type noAnswer struct{ why string }

func (e *noAnswer) Error() string          { return e.why }
func (e *noAnswer) ServiceFailure() string { return e.why }

// failed is the outcome of a check stopped by err: a noAnswer fails the
// check with its sentence; anything else is the environment's.
func failed(err error) labs.Outcome {
	var na *noAnswer
	if errors.As(err, &na) {
		return labs.Fail("%s", na.why)
	}
	return labs.Broken(err)
}

// shoot sends POST /request?key=key and waits at most wait for the answer,
// which must be a 200 or a 429.
func shoot(ctx context.Context, tg labs.Target, key string, wait time.Duration) (shot, error) {
	rctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	what := "POST /request?key=" + url.QueryEscape(key)
	s := shot{sent: time.Now()}
	r, err := labs.Call(rctx, tg, http.MethodPost, "/request?key="+url.QueryEscape(key), nil)
	s.recv = time.Now()
	if cerr := ctx.Err(); cerr != nil {
		return s, cerr
	}
	if err != nil {
		return s, &noAnswer{what + " " + unanswered(err, wait)}
	}
	s.status, s.retryAfter = r.Status, r.Header.Get("Retry-After")
	switch r.Status {
	case http.StatusOK:
		s.allowed = true
		var body struct {
			FailOpen bool `json:"fail_open"`
		}
		s.failOpen = json.Unmarshal(r.Body, &body) == nil && body.FailOpen
	case http.StatusTooManyRequests:
	default:
		return s, &noAnswer{fmt.Sprintf("%s answered %d%s; the contract answers 200 or 429.", what, r.Status, excerpt(r.Body))}
	}
	return s, nil
}

// unanswered says, in a sentence's end, why a request got no answer.
func unanswered(err error, wait time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("got no answer within %s.", span(wait))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "was refused: nothing listened (did the service stop? its log is beside the checks)."
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		return "got no answer: the service closed the connection (did it crash? its log is beside the checks)."
	}
	return "got no answer from the service."
}

// excerpt is a short quote of a body, for a message.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if s == "" {
		return ""
	}
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return fmt.Sprintf(" (%q)", s)
}

// inOrder sends n requests for key one after another.
func inOrder(ctx context.Context, tg labs.Target, key string, n int) ([]shot, error) {
	out := make([]shot, 0, n)
	for range n {
		s, err := shoot(ctx, tg, key, answerWait)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// atOnce sends n requests for key with workers in flight, released
// together.
func atOnce(ctx context.Context, tg labs.Target, key string, n, workers int) ([]shot, error) {
	out := make([]shot, n)
	errs := make([]error, n)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				out[i], errs[i] = shoot(ctx, tg, key, answerWait)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err // the first in order is as good as any
		}
	}
	return out, nil
}

// untilRefused sends requests for key one after another until one is
// refused or max were sent; the refusal is the last shot, if any.
func untilRefused(ctx context.Context, tg labs.Target, key string, max int) ([]shot, bool, error) {
	var out []shot
	for range max {
		s, err := shoot(ctx, tg, key, answerWait)
		if err != nil {
			return out, false, err
		}
		out = append(out, s)
		if !s.allowed {
			return out, true, nil
		}
	}
	return out, false, nil
}

// admitted counts the shots let through.
func admitted(shots []shot) int {
	n := 0
	for _, s := range shots {
		if s.allowed {
			n++
		}
	}
	return n
}

// lastAdmitted is the last shot let through (zero when none was).
func lastAdmitted(shots []shot) shot {
	var last shot
	for _, s := range shots {
		if s.allowed && s.recv.After(last.recv) {
			last = s
		}
	}
	return last
}

// proven is the most admitted requests that were certainly decided
// within provenSpan of each other: all sent at or after the first of
// them was sent, and all answered before provenSpan had passed since.
// More than the quota here is more than the quota in some 2 s span,
// whatever the machine's speed; within is how far apart they were at
// most.
func proven(shots []shot) (most int, within time.Duration) {
	var in []shot
	for _, s := range shots {
		if s.counted() {
			in = append(in, s)
		}
	}
	sort.Slice(in, func(i, j int) bool { return in[i].sent.Before(in[j].sent) })
	for i, first := range in {
		n, last := 0, first.recv
		for _, s := range in[i:] {
			if s.recv.Sub(first.sent) < provenSpan {
				n++
				if s.recv.After(last) {
					last = s.recv
				}
			}
		}
		if n > most {
			most, within = n, last.Sub(first.sent)
		}
	}
	return most, within
}

// startLive launches the service for a check: on one replica when the
// launcher can choose (the replica check asks for its 3 itself), so that
// every other check sees one limiter, however it keeps its count.
func startLive(ctx context.Context, t *labs.Trial, replicas int) (labs.Target, error) {
	if !t.Can(labs.Replicas) {
		return t.Start(ctx, nil)
	}
	return t.Start(ctx, map[string]any{"replicas": replicas})
}

// seconds formats a measured duration for a message: "1.23 s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// span formats a set duration for a message: "2 s", "0.25 s".
func span(d time.Duration) string { return fmt.Sprintf("%g s", d.Seconds()) }
