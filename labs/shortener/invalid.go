package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// invalidCreation is a creation that must be refused with 400 naming field.
type invalidCreation struct {
	what  string
	body  map[string]any
	field string
}

// longURL is a URL of exactly maxURLLen characters.
var longURL = "https://example.org/" + strings.Repeat("a", maxURLLen-len("https://example.org/"))

var invalidCreations = []invalidCreation{
	{"a javascript: URL", map[string]any{"url": "javascript:alert(document.cookie)"}, "url"},
	{"a data: URL", map[string]any{"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}, "url"},
	{"an ftp: URL", map[string]any{"url": "ftp://files.example.org/setup.exe"}, "url"},
	{"a file: URL", map[string]any{"url": "file:///etc/passwd"}, "url"},
	{"credentials in the URL", map[string]any{"url": "https://admin:hunter2@bank.example.org/login"}, "url"},
	{"a user name before the host", map[string]any{"url": "https://paypal.com@phish.example.net/"}, "url"},
	{"no scheme", map[string]any{"url": "www.example.org/page"}, "url"},
	{"no host", map[string]any{"url": "https:///etc/passwd"}, "url"},
	{"2,049 characters", map[string]any{"url": longURL + "b"}, "url"},
	{"a space", map[string]any{"url": "https://example.org/a b"}, "url"},
	{"a line break", map[string]any{"url": "https://example.org/\r\nSet-Cookie: session=stolen"}, "url"},
	{"an empty URL", map[string]any{"url": ""}, "url"},
	{"no URL", map[string]any{}, "url"},
	{"a reserved alias", map[string]any{"url": "https://example.org/", "alias": "admin"}, "alias"},
	{"an alias with slashes", map[string]any{"url": "https://example.org/", "alias": "../../etc"}, "alias"},
	{"a negative lifetime", map[string]any{"url": "https://example.org/", "ttl_s": -1}, "ttl_s"},
}

// invalidSeen sorts the answers to the creations.
type invalidSeen struct {
	accepted, unnamed, wrongStatus, refused []string
}

// checkInvalid sends invalid creations through the route, and two valid
// ones at the edges of the rules.
func checkInvalid(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	var s invalidSeen
	for _, b := range invalidCreations {
		if err := s.refusal(ctx, tg, b); err != nil {
			return outcomeOf(err)
		}
	}
	for _, g := range []struct{ what, url string }{
		{"a URL of exactly 2,048 characters", longURL}, {"a URL with a port and a query", "http://shop.example.org:8080/cart?item=7&qty=2"},
	} {
		rep, err := labs.Call(ctx, tg, http.MethodPost, "/shorten", map[string]any{"url": g.url})
		if err != nil {
			return labs.Broken(err)
		}
		if rep.Status >= 500 {
			return routeError("POST shorten with "+g.what, rep)
		}
		if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
			s.refused = append(s.refused, fmt.Sprintf("%s answered %d: %s", g.what, rep.Status, clip(strings.TrimSpace(string(rep.Body)))))
		}
	}
	st, hasStats, err := stats(ctx, tg)
	if err != nil {
		return outcomeOf(err)
	}
	o := s.verdict()
	if o.Passed && hasStats {
		o.Message += fmt.Sprintf(" The lab counted %d rejected creations.", st.Totals.Rejected)
	}
	return o
}

// refusal sends one invalid creation and sorts its answer.
func (s *invalidSeen) refusal(ctx context.Context, tg labs.Target, b invalidCreation) error {
	rep, err := labs.Call(ctx, tg, http.MethodPost, "/shorten", b.body)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return err
	}
	var e labhttp.Body
	_ = rep.JSON(&e)
	switch {
	case rep.Status == http.StatusCreated || rep.Status == http.StatusOK:
		var c Created
		_ = rep.JSON(&c)
		s.accepted = append(s.accepted, fmt.Sprintf("%s (answered %d with code %q)", b.what, rep.Status, c.Code))
	case rep.Status >= 500:
		return routeErr("POST shorten with "+b.what, rep)
	case rep.Status != http.StatusBadRequest:
		s.wrongStatus = append(s.wrongStatus, fmt.Sprintf("%s answered %d", b.what, rep.Status))
	case e.Error.Message == "" || (e.Error.Fields[b.field] == "" && !strings.Contains(strings.ToLower(e.Error.Message), b.field)):
		s.unnamed = append(s.unnamed, fmt.Sprintf("%s: %s", b.what, clip(strings.TrimSpace(string(rep.Body)))))
	}
	return nil
}

func (s *invalidSeen) verdict() labs.Outcome {
	var problems []string
	if len(s.accepted) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d invalid creations were accepted: %s. A shortener that takes these hides phishing, "+
			"script injection and leaked credentials behind an innocent-looking link.", len(s.accepted), len(invalidCreations), listFirst(s.accepted)))
	}
	if len(s.wrongStatus) > 0 {
		problems = append(problems, fmt.Sprintf("%d were refused, but not with 400: %s.", len(s.wrongStatus), listFirst(s.wrongStatus)))
	}
	if len(s.unnamed) > 0 {
		problems = append(problems, fmt.Sprintf("%d answered 400 without naming the field: %s.", len(s.unnamed), listFirst(s.unnamed)))
	}
	if len(s.refused) > 0 {
		problems = append(problems, fmt.Sprintf("Valid links were refused: %s.", listFirst(s.refused)))
	}
	if len(problems) > 0 {
		return labs.Fail("%s", strings.Join(problems, " "))
	}
	return labs.Pass("All %d invalid creations answered 400 naming the field (javascript:, data:, ftp: and file: URLs, credentials, no scheme, no host, "+
		"2,049 characters, a space, a line break, an empty or missing URL, a reserved alias, an alias with slashes, a negative lifetime), "+
		"and a URL of exactly 2,048 characters and one with a port and a query were accepted.", len(invalidCreations))
}
