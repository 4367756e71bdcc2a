package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// The checks reach the design under test through its routes only (the
// contract in doc.go), with these helpers.

// start starts a target of the design on the suite's own clock when it
// can run on one: it starts at the machine's time (to the second) and
// moves only when the check moves it, so cache TTLs and lifetimes pass
// when the check says, never because the grading machine was slow. A
// service runs on real time, and the check waits instead.
func start(ctx context.Context, t *labs.Trial) (labs.Target, labs.Timeline, error) {
	tl := t.Timeline(time.Now().Truncate(time.Second))
	tg, err := t.Start(ctx, nil)
	return tg, tl, err
}

// stopped is a check's outcome decided in one of its steps, carried out
// of it as an error.
type stopped struct{ labs.Outcome }

func (s stopped) Error() string { return s.Message }

// outcomeOf is the outcome a step's error decides: its own when it
// stopped the check, else labs.OutcomeOf.
func outcomeOf(err error) labs.Outcome {
	var s stopped
	if errors.As(err, &s) {
		return s.Outcome
	}
	return labs.OutcomeOf(err)
}

// failed stops a check with a failure.
func failed(format string, args ...any) error { return stopped{labs.Fail(format, args...)} }

// routeError is an unexpected answer of a route the check needed. A
// creation refused for a full code space is the design's doing, not the
// environment's.
func routeError(what string, rep labs.Reply) labs.Outcome {
	var e labhttp.Body
	if rep.Status >= 500 && (rep.JSON(&e) != nil || e.Error.Fields["code_length"] == "") {
		return labs.Broken(fmt.Errorf("%s answered %d: %s", what, rep.Status, strings.TrimSpace(string(rep.Body))))
	}
	return labs.Fail("%s answered %d: %s", what, rep.Status, clip(strings.TrimSpace(string(rep.Body))))
}

// routeErr is routeError as a step's error.
func routeErr(what string, rep labs.Reply) error { return stopped{routeError(what, rep)} }

// follow sends GET r/{code}. A 5xx is the environment's failure.
func follow(ctx context.Context, tg labs.Target, code, what string) (labs.Reply, error) {
	rep, err := labs.Call(ctx, tg, http.MethodGet, "/r/"+url.PathEscape(code), nil)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return rep, err
	}
	if rep.Status >= 500 {
		return rep, routeErr("GET r/"+code+what, rep)
	}
	return rep, nil
}

// leadsTo reports whether rep redirects to u.
func leadsTo(rep labs.Reply, u string) bool {
	return isRedirect(rep.Status) && rep.Header.Get("Location") == u
}

// create sends POST shorten and decodes a 201 (or 200 for a link that
// exists). A refusal for a full code space is sent again, up to
// spaceRetries times.
func create(ctx context.Context, tg labs.Target, body map[string]any) (Created, labs.Reply, error) {
	var c Created
	rep, err := labs.Call(ctx, tg, http.MethodPost, "/shorten", body)
	for try := 0; err == nil && try < spaceRetries && spaceFull(rep); try++ {
		rep, err = labs.Call(ctx, tg, http.MethodPost, "/shorten", body)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return c, rep, err
	}
	if rep.Status == http.StatusCreated || rep.Status == http.StatusOK {
		if err := rep.JSON(&c); err != nil {
			return c, rep, fmt.Errorf("POST shorten: decode %q: %w", rep.Body, err)
		}
	}
	return c, rep, nil
}

// spaceFull reports whether a creation was refused for a full code space.
func spaceFull(rep labs.Reply) bool {
	var e labhttp.Body
	return rep.Status == http.StatusServiceUnavailable && rep.JSON(&e) == nil && e.Error.Fields["code_length"] != ""
}

// batchOf creates the links of urls with POST batch, which the creation
// limit does not apply to, and answers each one's code or why it has none.
func batchOf(ctx context.Context, tg labs.Target, urls []string) (BatchResult, error) {
	res, err := labs.CallJSON[BatchResult](ctx, tg, http.MethodPost, "/batch", map[string]any{"urls": urls}, http.StatusOK)
	if err != nil {
		return res, err
	}
	if len(res.Results) != len(urls) {
		return res, failed("POST batch with %d URLs answered %d results.", len(urls), len(res.Results))
	}
	return res, nil
}

// failure words why a link of a batch has no code.
func failure(item BatchItem) string {
	switch item.Error {
	case failSpaceFull:
		return "code space used up"
	case failNoFreeCode:
		return "no free code"
	case "":
		return "no code and no error"
	}
	return clip(item.Error)
}

// createMany creates the links of urls as batchOf does, sending those
// refused because maxAttempts codes in a row were taken again, up to
// spaceRetries times: random codes in a tiny code space collide by chance,
// and only "10,000 distinct codes" judges the space's size. A service has
// no design that chose a tiny space (its codes of up to 7 characters
// never collide by chance at this scale), so its refusals stand. codes[i]
// is urls[i]'s code; first is the first link left without one (-1 when
// none), and why says why.
func createMany(ctx context.Context, tg labs.Target, urls []string) (codes []string, first int, why string, err error) {
	codes = make([]string, len(urls))
	pending := make([]int, len(urls))
	for i := range pending {
		pending[i] = i
	}
	retries := spaceRetries
	if tg.Design() == nil {
		retries = 0
	}
	for try := 0; len(pending) > 0; try++ {
		batch := make([]string, len(pending))
		for j, i := range pending {
			batch[j] = urls[i]
		}
		res, err := batchOf(ctx, tg, batch)
		if err != nil {
			return codes, -1, "", err
		}
		var again []int
		for j, item := range res.Results {
			i := pending[j]
			switch {
			case item.Code != "":
				codes[i] = item.Code
			case item.Error == failNoFreeCode && try < retries:
				again = append(again, i)
			default:
				return codes, i, failure(item), nil
			}
		}
		pending = again
	}
	return codes, -1, "", nil
}

// stats reads GET stats; ok is false when the target has none (a service
// need not), and err is the environment's failure.
func stats(ctx context.Context, tg labs.Target) (st State, ok bool, err error) {
	r, err := labs.Call(ctx, tg, http.MethodGet, "/stats", nil)
	switch {
	case err != nil:
		return st, false, err
	case r.Status == http.StatusNotFound && tg.Design() == nil:
		return st, false, nil
	case r.Status != http.StatusOK:
		return st, false, &labs.RouteError{What: "GET stats", Reply: r}
	}
	if err := r.JSON(&st); err != nil {
		return st, false, fmt.Errorf("GET stats: %w", err)
	}
	return st, true, nil
}

// storedLinks reads every stored link with GET links, code → URL; ok is
// false when the target does not list them (a service need not).
func storedLinks(ctx context.Context, tg labs.Target) (map[string]string, bool, error) {
	out := map[string]string{}
	after := ""
	for {
		r, err := labs.Call(ctx, tg, http.MethodGet, "/links?limit=1000&after="+url.QueryEscape(after), nil)
		switch {
		case err != nil:
			return nil, false, err
		case r.Status == http.StatusNotFound && tg.Design() == nil:
			return nil, false, nil
		case r.Status != http.StatusOK:
			return nil, false, &labs.RouteError{What: "GET links", Reply: r}
		}
		var page LinkList
		if err := r.JSON(&page); err != nil {
			return nil, false, fmt.Errorf("GET links: %w", err)
		}
		for _, l := range page.Links {
			out[l.Code] = l.URL
		}
		if page.Next == "" || page.Next == after || len(page.Links) == 0 {
			return out, true, nil
		}
		after = page.Next
	}
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// listFirst joins the first three of ss and says how many more there are.
func listFirst(ss []string) string {
	const show = 3
	if len(ss) <= show {
		return strings.Join(ss, "; ")
	}
	return strings.Join(ss[:show], "; ") + fmt.Sprintf("; and %d more", len(ss)-show)
}

// clip shortens s for a message: its first 60 characters, an ellipsis and
// its last 20.
func clip(s string) string {
	if len(s) <= 90 {
		return s
	}
	return s[:60] + "…" + s[len(s)-20:]
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
