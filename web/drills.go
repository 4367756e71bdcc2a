package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/drills"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// drillLimits bound the drill attempts a learner stores: practice is
// unlimited, but past these an attempt is graded and not kept.
var drillLimits = store.DrillLimits{PerMinute: 20, PerDay: 500}

// maxDrillTime is the longest an attempt may be counted as taking; a
// problem left open longer has no time.
const maxDrillTime = 24 * time.Hour

// drillIssuedKey is the Redis hash of when a signed-in learner was shown
// each problem, by seed (Unix milliseconds). The time an attempt took is
// measured from it, never from the form, so a best time is honest.
func drillIssuedKey(userID int64) string {
	return "drills:issued:" + strconv.FormatInt(userID, 10)
}

// maxIssuedDrills bounds the problems a learner's hash remembers: past
// it, it starts over, and the problems shown before have no time.
const maxIssuedDrills = 50

// issueDrill notes when a signed-in learner was shown a problem. Without
// it the attempt is still graded and saved, with no time.
func (s *Server) issueDrill(c *gin.Context, seed int64) {
	u := currentUser(c)
	if u == nil {
		return
	}
	ctx, key, field := c.Request.Context(), drillIssuedKey(u.ID), strconv.FormatInt(seed, 10)
	var n *goredis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, key, field, s.now().UnixMilli())
		n = p.HLen(ctx, key)
		p.Expire(ctx, key, maxDrillTime)
		return nil
	})
	if err == nil && n.Val() > maxIssuedDrills {
		_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, key)
			p.HSet(ctx, key, field, s.now().UnixMilli())
			p.Expire(ctx, key, maxDrillTime)
			return nil
		})
	}
	if err != nil {
		_ = c.Error(err)
	}
}

// drillStart is when the learner was shown the problem of seed; when that
// is not known (or not plausible) it is now, so the attempt has no time.
func (s *Server) drillStart(c *gin.Context, userID, seed int64, now time.Time) time.Time {
	ms, err := s.rdb.HGet(c.Request.Context(), drillIssuedKey(userID), strconv.FormatInt(seed, 10)).Int64()
	if err != nil {
		if !errors.Is(err, goredis.Nil) {
			_ = c.Error(err)
		}
		return now
	}
	t := time.UnixMilli(ms)
	if t.After(now) || now.Sub(t) > maxDrillTime {
		return now
	}
	return t
}

// drillsIndex lists every kind of drill, with the learner's figures.
func (s *Server) drillsIndex(c *gin.Context) {
	m := views.DrillIndex{}
	var st store.DrillStats
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		var err error
		if st, err = s.store.DrillStatsOf(c.Request.Context(), u.ID); err != nil {
			s.fail(c, err)
			return
		}
	}
	for _, k := range drills.Kinds() {
		f := st.Kinds[k.ID]
		m.Kinds = append(m.Kinds, views.DrillKindRow{ID: k.ID, Title: k.Title, Summary: k.Summary,
			Attempts: f.Attempts, Correct: f.Correct, Streak: f.Streak})
	}
	s.render(c, http.StatusOK, views.Page{Title: "Estimation drills", Section: "drills",
		Description: "Estimation drills for system design interviews: fresh numbers every time, graded within 15%."}, views.DrillsIndexView(m))
}

// drillKindOr404 returns the kind the address names, or answers 404.
func (s *Server) drillKindOr404(c *gin.Context) (drills.Kind, bool) {
	k, ok := drills.ByID(c.Param("kind"))
	if !ok {
		s.notFound(c)
	}
	return k, ok
}

// drillPage shows a fresh problem of a kind.
func (s *Server) drillPage(c *gin.Context) {
	k, ok := s.drillKindOr404(c)
	if !ok {
		return
	}
	m := views.DrillPage{Problem: k.Generate(drills.NewSeed()), SignedIn: currentUser(c) != nil}
	s.issueDrill(c, m.Problem.Seed)
	s.renderDrill(c, http.StatusOK, m)
}

func (s *Server) renderDrill(c *gin.Context, status int, m views.DrillPage) {
	s.render(c, status, views.Page{Title: m.Problem.Kind.Title + " · Drills", Section: "drills"}, views.DrillView(m))
}

// submitDrill grades the estimates for the problem the form's seed names;
// estimates that do not read re-show the form with what was typed and a
// sentence by each. A signed-in learner's attempt is saved.
func (s *Server) submitDrill(c *gin.Context) {
	k, ok := s.drillKindOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	form, now, u := c.Request.PostForm, s.now(), currentUser(c)
	seed, err := strconv.ParseInt(form.Get("seed"), 10, 64)
	if err != nil || seed < 0 {
		m := views.DrillPage{Problem: k.Generate(drills.NewSeed()), SignedIn: u != nil,
			Message: "We could not tell which problem you answered, so here is a new one; nothing was recorded."}
		s.issueDrill(c, m.Problem.Seed)
		s.renderDrill(c, http.StatusUnprocessableEntity, m)
		return
	}
	p := k.Generate(seed)
	m := views.DrillPage{Problem: p, SignedIn: u != nil, Values: map[string]string{}}
	for _, a := range p.Asks {
		m.Values[a.ID] = clipText(form.Get(a.ID), 2*drills.MaxEstimateLen)
	}
	res, errs := drills.Grade(p, m.Values)
	if errs != nil {
		m.Errors = errs
		m.Message = "Some estimates could not be read; see the message under each. Nothing was recorded."
		s.renderDrill(c, http.StatusUnprocessableEntity, m)
		return
	}
	m.Result = &res
	status := http.StatusOK
	if u != nil {
		status = s.saveDrill(c, u.ID, p, res, s.drillStart(c, u.ID, seed, now), now, &m)
	}
	s.renderDrill(c, status, m)
}

// saveDrill stores a graded attempt and says on the page whether it was
// kept; it returns the page's status.
func (s *Server) saveDrill(c *gin.Context, userID int64, p drills.Problem, res drills.Result, started, now time.Time, m *views.DrillPage) int {
	answers := map[string]string{}
	for _, g := range res.Items {
		answers[g.ID] = g.Typed
	}
	raw, _ := json.Marshal(answers)
	a := store.DrillAttempt{UserID: userID, Kind: p.Kind.ID, Seed: p.Seed, Answers: string(raw),
		RightCount: res.Right, Asked: len(p.Asks), Correct: res.Correct, StartedAt: started, FinishedAt: now,
		DurationMS: now.Sub(started).Milliseconds()}
	err := s.store.AddDrillAttempt(c.Request.Context(), &a, drillLimits)
	if e, ok := apperr.As(err); ok && e.Code == apperr.TooMany {
		c.Header("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
		m.Notice = e.Message
		return http.StatusTooManyRequests
	}
	if err != nil {
		// The grading stands and is shown; only keeping it failed, and the
		// request's log line carries why.
		_ = c.Error(err)
		m.Notice = "Your attempt was graded but could not be saved just now; try another in a moment."
		if dependencyDown(err) {
			return http.StatusServiceUnavailable
		}
		return http.StatusInternalServerError
	}
	// The time counts once: the same problem sent again has none.
	if err := s.rdb.HDel(c.Request.Context(), drillIssuedKey(userID), strconv.FormatInt(p.Seed, 10)).Err(); err != nil {
		_ = c.Error(err)
	}
	m.Saved = true
	return http.StatusOK
}

// clipText keeps at most n bytes of what was typed, on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// drillAttemptPage shows a stored attempt again: the same problem from its
// seed, its estimates graded again. Another learner's is a 404.
func (s *Server) drillAttemptPage(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	a, err := s.store.DrillAttemptOf(c.Request.Context(), currentUser(c).ID, id)
	if err != nil {
		s.failOr404(c, err)
		return
	}
	k, ok := drills.ByID(a.Kind)
	if !ok {
		s.notFound(c)
		return
	}
	p := k.Generate(a.Seed)
	typed := map[string]string{}
	_ = json.Unmarshal([]byte(a.Answers), &typed)
	res, _ := drills.Grade(p, typed)
	m := views.DrillPage{Problem: p, SignedIn: true, Result: &res,
		Attempt: &views.DrillAttemptInfo{When: a.FinishedAt.UTC().Format("2 Jan 2006 15:04 UTC"), Took: tookText(a.DurationMS)}}
	s.renderDrill(c, http.StatusOK, m)
}

// tookText writes an attempt's time: "48 s", "2 min 5 s".
func tookText(ms int64) string {
	if ms <= 0 {
		return "no time recorded"
	}
	sec := (ms + 500) / 1000
	if sec < 60 {
		return fmt.Sprintf("%d s", sec)
	}
	if sec < 3600 {
		return fmt.Sprintf("%d min %d s", sec/60, sec%60)
	}
	return fmt.Sprintf("%d h %d min", sec/3600, sec%3600/60)
}

// drillProgress is the drills part of the progress page.
func (s *Server) drillProgress(c *gin.Context, userID int64) (views.DrillProgress, error) {
	st, err := s.store.DrillStatsOf(c.Request.Context(), userID)
	if err != nil {
		return views.DrillProgress{}, err
	}
	d := views.DrillProgress{Attempts: st.Attempts, Streak: st.Streak}
	if st.BestMS > 0 {
		d.Best = tookText(st.BestMS)
	}
	titles := map[string]string{}
	for _, k := range drills.Kinds() {
		titles[k.ID] = k.Title
		f, ok := st.Kinds[k.ID]
		if !ok {
			continue
		}
		r := views.DrillProgressRow{ID: k.ID, Title: k.Title, Attempts: f.Attempts, Correct: f.Correct, Streak: f.Streak}
		if f.BestMS > 0 {
			r.Best = tookText(f.BestMS)
		}
		d.Rows = append(d.Rows, r)
	}
	for _, a := range st.Recent {
		title := titles[a.Kind]
		if title == "" {
			title = a.Kind
		}
		d.Recent = append(d.Recent, views.DrillRecent{ID: a.ID, Title: title, Correct: a.Correct, Right: a.RightCount,
			Asked: a.Asked, When: a.FinishedAt.UTC().Format("2 Jan 2006 15:04 UTC"), Took: tookText(a.DurationMS)})
	}
	return d, nil
}
