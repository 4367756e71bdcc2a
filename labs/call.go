package labs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Reply is a route's answer.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the reply's body into v.
func (r Reply) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// maxReply bounds the body a check reads.
const maxReply = 4 << 20

// Request is what a check sends to a target.
type Request struct {
	Method string
	// Path is relative to the lab's routes and may carry a query:
	// "/request?key=a".
	Path string
	// Body, when not nil, is sent as JSON.
	Body   any
	Header http.Header
}

// Call sends method path to tg with body as JSON when it is not nil, and
// reads the answer; see Send.
func Call(ctx context.Context, tg Target, method, path string, body any) (Reply, error) {
	return Send(ctx, tg, Request{Method: method, Path: path, Body: body})
}

// Send sends req to tg and reads the answer (at most 4 MiB of it). An
// error means the target did not answer (or ctx ended): the environment's
// failure, not the design's, unless the check says otherwise.
func Send(ctx context.Context, tg Target, req Request) (Reply, error) {
	var rd io.Reader
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return Reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, tg.URL(req.Path), rd)
	if err != nil {
		return Reply{}, err
	}
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	hr.Header.Set("Accept", "application/json")
	if req.Body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	resp, err := tg.Client().Do(hr)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.Path, err)
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// RouteError is an answer a check did not expect from a route. Checks
// send valid requests, so a 5xx means Redis or the database failed (the
// environment's failure); anything else is the design's.
type RouteError struct {
	What  string // "POST /orders"
	Reply Reply
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.What, e.Reply.Status, strings.TrimSpace(string(e.Reply.Body)))
}

// OutcomeOf turns the error of a check's step into the check's outcome: a
// RouteError below 500 fails the design, saying what came back; anything
// else is the environment's (Broken).
func OutcomeOf(err error) Outcome {
	var re *RouteError
	if errors.As(err, &re) && re.Reply.Status < http.StatusInternalServerError {
		return Fail("%s", re.Error())
	}
	return Broken(err)
}

// CallJSON sends method path (with body as JSON when not nil) and decodes
// an answer with status want into a T. Another status is a *RouteError.
func CallJSON[T any](ctx context.Context, tg Target, method, path string, body any, want int) (T, error) {
	var v T
	r, err := Call(ctx, tg, method, path, body)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return v, err
	}
	if r.Status != want {
		return v, &RouteError{What: method + " " + path, Reply: r}
	}
	if err := r.JSON(&v); err != nil {
		return v, fmt.Errorf("%s %s: decoding %q: %w", method, path, r.Body, err)
	}
	return v, nil
}
