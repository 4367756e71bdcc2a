package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

// maxWatchers bounds the live streams one instance serves at once.
const maxWatchers = 8

// labErr maps the lab manager's errors to application errors.
func labErr(err error) error {
	if e, ok := labClusterErr(err); ok {
		return e
	}
	switch {
	case errors.Is(err, labs.ErrNotFound), errors.Is(err, labs.ErrUnknownLab):
		return apperr.Wrap(err, apperr.NotFound, "There is no such lab instance, or it is not yours.")
	case errors.Is(err, labs.ErrTooMany):
		return apperr.Wrap(err, apperr.TooMany, "You have %d lab instances running; stop one before launching another.", labs.DefaultLimits.PerOwner)
	case errors.Is(err, labs.ErrBusy):
		return apperr.Wrap(err, apperr.Conflict, "A load run is already going on this instance; wait for it to finish.")
	case errors.Is(err, labs.ErrReconfiguring):
		return apperr.Wrap(err, apperr.Reconfiguring, reconfiguringMessage)
	case errors.Is(err, labs.ErrTooManyWatchers):
		return apperr.Wrap(err, apperr.TooMany, "This instance is already being watched in %d tabs.", maxWatchers)
	}
	return err
}

func (s *Server) labOr404(c *gin.Context) (labs.Lab, bool) {
	l, ok := s.labs.Lab(c.Param("lab"))
	if !ok {
		if slices.Contains(s.catalog().LabRefs(), c.Param("lab")) {
			// Lessons name every lab of the module; say plainly when this
			// server does not run one of them (yet).
			s.failWith(c, http.StatusNotFound, string(apperr.NotFound),
				"The "+c.Param("lab")+" lab is not available on this server yet. The other labs are on the Labs page.", nil)
			return nil, false
		}
		s.notFound(c)
	}
	return l, ok
}

// instanceJSON is an instance as the API shows it.
func instanceJSON(c *gin.Context, r *labs.Running) (gin.H, error) {
	st, err := r.Instance().State(c.Request.Context())
	if err != nil {
		return nil, err
	}
	base := "/api/labs/" + r.Lab.Info().ID + "/instances/" + r.ID
	return gin.H{"id": r.ID, "lab": r.Lab.Info().ID, "design": r.CurrentDesign(), "created_at": r.Created.UTC(),
		"state": st, "events_url": base + "/events", "load_url": base + "/load"}, nil
}

// apiLabs lists the labs with their design schema and defaults.
func (s *Server) apiLabs(c *gin.Context) {
	out := []gin.H{}
	for _, l := range s.labs.Labs() {
		defaults := labs.Design{}
		for _, f := range l.Fields() {
			defaults[f.Name] = f.Default
		}
		out = append(out, gin.H{"id": l.Info().ID, "info": l.Info(), "fields": l.Fields(), "defaults": defaults})
	}
	c.JSON(http.StatusOK, gin.H{"labs": out, "limits": gin.H{
		"instances_per_learner": s.labs.Limits().PerOwner, "idle_minutes": s.labs.Limits().Idle.Minutes(),
		"load": gin.H{"requests": s.labs.Limits().MaxRequests, "concurrency": s.labs.Limits().MaxConc,
			"rate_per_s": s.labs.Limits().MaxRate, "keys": s.labs.Limits().MaxKeys},
	}})
}

func readJSONBody(c *gin.Context, limit int64) ([]byte, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, apperr.Wrap(err, apperr.Invalid, "The request body could not be read.")
	}
	return b, nil
}

func (s *Server) apiLaunch(c *gin.Context) {
	l, ok := s.labOr404(c)
	if !ok {
		return
	}
	body, err := readJSONBody(c, 32<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	d, ferrs := labs.ParseDesign(l, body)
	if len(ferrs) > 0 {
		s.fail(c, apperr.Fields(ferrs))
		return
	}
	r, err := s.labs.Launch(c.Request.Context(), l.Info().ID, currentUser(c).ID, d)
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	j, err := instanceJSON(c, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/api/labs/"+l.Info().ID+"/instances/"+r.ID)
	c.JSON(http.StatusCreated, j)
}

// ctxInstance is the context key of the instance ownInstance found.
const ctxInstance = "lab_instance"

// instanceOf is the instance ownInstance found.
func instanceOf(c *gin.Context) *labs.Running {
	r, _ := c.Get(ctxInstance)
	return r.(*labs.Running)
}

// apiInstance reads (GET), reconfigures (PATCH) or stops (DELETE) an
// instance.
func (s *Server) apiInstance(c *gin.Context) {
	r := instanceOf(c)
	switch c.Request.Method {
	case http.MethodGet:
		_, gen, err := r.Serving()
		if err != nil {
			s.fail(c, labErr(err))
			return
		}
		j, err := instanceJSON(c, r)
		if err != nil && r.Replaced(gen) {
			err = labErr(fmt.Errorf("%w: reading its state: %w", labs.ErrReconfiguring, err))
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		c.JSON(http.StatusOK, j)
	case http.MethodPatch:
		s.apiReconfigure(c, r)
	case http.MethodDelete:
		if err := s.labs.Stop(c.Request.Context(), r.Lab.Info().ID, r.ID, r.Owner); err != nil {
			s.fail(c, labErr(err))
			return
		}
		c.Status(http.StatusNoContent)
	default:
		c.Header("Allow", "GET, PATCH, DELETE")
		s.methodNotAllowed(c)
	}
}

// apiInstanceRoutes serves what is under an instance: its event stream
// (GET events) and load runs (POST load), and then the lab's own routes,
// handed to the instance's handler with the instance's prefix stripped.
func (s *Server) apiInstanceRoutes(c *gin.Context) {
	r := instanceOf(c)
	switch rest := c.Param("rest"); {
	case rest == "/events" && c.Request.Method == http.MethodGet:
		s.apiEvents(c, r)
	case rest == "/load" && c.Request.Method == http.MethodPost:
		s.apiLoad(c, r)
	default:
		s.serveLabRoute(c, r)
	}
}

func (s *Server) apiReconfigure(c *gin.Context, r *labs.Running) {
	body, err := readJSONBody(c, 32<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	// PATCH changes the named fields and keeps the others.
	var patch map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&patch); err != nil {
		s.fail(c, apperr.Fields(map[string]string{"design": "The body must be a JSON object of design fields."}))
		return
	}
	merged := map[string]any{}
	for k, v := range r.CurrentDesign() {
		merged[k] = v
	}
	for k, v := range patch {
		merged[k] = v
	}
	d, ferrs := labs.Validate(r.Lab, merged)
	if len(ferrs) > 0 {
		s.fail(c, apperr.Fields(ferrs))
		return
	}
	r, err = s.labs.Reconfigure(c.Request.Context(), r.Lab.Info().ID, r.ID, r.Owner, d)
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	j, err := instanceJSON(c, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, j)
}

func (s *Server) apiLoad(c *gin.Context, r *labs.Running) {
	body, err := readJSONBody(c, 4<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	spec := labs.LoadSpec{Concurrency: 10, Keys: 1}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			msg := "Must be a whole number (a JSON number, not in quotes)."
			if te.Type.Kind() == reflect.String {
				msg = `Must be text in quotes: "uniform" or "zipf".`
			}
			s.fail(c, apperr.Fields(map[string]string{te.Field: msg}))
			return
		}
		s.fail(c, apperr.Fields(map[string]string{"load": "Send {\"requests\", \"concurrency\", \"rate_per_s\", \"keys\"} as whole numbers and optionally \"distribution\": \"uniform\" or \"zipf\": " + err.Error()}))
		return
	}
	if ferrs := s.labs.Limits().Check(spec); len(ferrs) > 0 {
		s.fail(c, apperr.Fields(ferrs))
		return
	}
	s.metrics.LoadRunStarted(r.LabID())
	sum, err := s.labs.Load(c.Request.Context(), r, spec)
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	c.JSON(http.StatusOK, sum)
}

// apiEvents streams an instance's metrics and log as Server-Sent Events:
// first an "init" event with the charts, history and log so far, then a
// "point" every 100 ms and a "log" per event line.
func (s *Server) apiEvents(c *gin.Context, r *labs.Running) {
	ch, pts, evs, cancel, err := r.Metrics.TrySubscribe(maxWatchers)
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	defer cancel()
	defer s.metrics.StreamOpened("lab")()
	send, keepAlive := eventStream(c)
	if !send("init", gin.H{"charts": r.Lab.Info().Charts, "points": pts, "events": evs}) {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ending.ch:
			endForShutdown(c.Writer)
			return
		case <-heartbeat.C:
			if !keepAlive() {
				return
			}
		case m, ok := <-ch:
			if !ok {
				send("end", gin.H{"reason": "the instance stopped"})
				return
			}
			if m.Point != nil && !send("point", m.Point) {
				return
			}
			if m.Event != nil && !send("log", m.Event) {
				return
			}
		}
	}
}

// eventStream starts a Server-Sent Events response: send writes one event
// with a JSON body, keepAlive a comment that keeps proxies from closing an
// idle stream. Both report false once the client has gone.
func eventStream(c *gin.Context) (send func(event string, v any) bool, keepAlive func() bool) {
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would buffer the stream
	w.WriteHeader(http.StatusOK)
	send = func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	keepAlive = func() bool {
		if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	return send, keepAlive
}

// Pages.

func (s *Server) labsIndex(c *gin.Context) {
	var cards []views.LabCard
	for _, l := range s.labs.Labs() {
		cards = append(cards, views.LabCard{Info: l.Info()})
	}
	s.render(c, http.StatusOK, views.Page{Title: "Labs", Section: "labs"}, views.LabsIndexView(cards))
}

func (s *Server) labPageModel(c *gin.Context, l labs.Lab) views.LabPage {
	m := views.LabPage{Info: l.Info(), Fields: l.Fields(), Values: map[string]string{}, Pokes: l.Info().Pokes,
		Picture: s.pictureURL(l.Info().ID),
		Limits:  s.labs.Limits()}
	if les, ok := s.catalog().Lesson(l.Info().Lesson); ok {
		m.LessonTitle = les.Title
	}
	for _, f := range l.Fields() {
		m.Values[f.Name] = fmt.Sprint(f.Default)
	}
	if s.gradingOn() {
		exs, err := s.exerciseSummaries(c, l.Info().ID)
		if err != nil {
			s.log.Warn("reading a learner's ladder", "request_id", c.GetString(ctxRequestID), "err", err)
		}
		m.Exercises = exs
	}
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		owned, err := s.labs.Owned(c.Request.Context(), l.Info().ID, u.ID)
		if err != nil {
			s.log.Warn("listing a learner's lab instances", "request_id", c.GetString(ctxRequestID), "err", err)
			m.Message = "Your running instances cannot be listed right now; reload the page in a moment."
		}
		for _, r := range owned {
			m.Instances = append(m.Instances, views.LabInstance{ID: r.ID, Design: r.Design, Created: r.Created})
		}
	}
	return m
}

func (s *Server) labPage(c *gin.Context) {
	l, ok := s.labOr404(c)
	if !ok {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: l.Info().Title, Section: "labs", Description: l.Info().Summary},
		views.LabView(s.labPageModel(c, l)))
}

// launchFromForm launches an instance from the page's form; bad values
// re-render the form with messages beside the fields.
func (s *Server) launchFromForm(c *gin.Context) {
	l, ok := s.labOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	raw, ferrs := labs.FormValues(l, c.Request.PostForm.Get)
	var d labs.Design
	if len(ferrs) == 0 {
		d, ferrs = labs.Validate(l, raw)
	}
	m := s.labPageModel(c, l)
	if len(ferrs) > 0 {
		for _, f := range l.Fields() {
			if v := c.Request.PostForm.Get(f.Name); v != "" {
				m.Values[f.Name] = v // as typed, to be corrected
			}
		}
		m.Errors = ferrs
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: l.Info().Title, Section: "labs"}, views.LabView(m))
		return
	}
	r, err := s.labs.Launch(c.Request.Context(), l.Info().ID, currentUser(c).ID, d)
	if err != nil {
		if e, ok := apperr.As(labErr(err)); ok && e.Code != apperr.Internal {
			m.Message = e.Message
			if errors.Is(err, labs.ErrTooMany) {
				m.Running, _ = s.runningInstances(c.Request.Context(), currentUser(c).ID) // the message says enough without the list
			}
			s.render(c, statusOf(e.Code), views.Page{Title: l.Info().Title, Section: "labs"}, views.LabView(m))
			return
		}
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/labs/"+l.Info().ID+"#instance-"+r.ID)
}

// stopFromForm stops an instance and goes back to its lab's page, or to
// the page the form names in next (the home, another lab's page).
func (s *Server) stopFromForm(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.labs.Stop(c.Request.Context(), c.Param("lab"), c.Param("id"), currentUser(c).ID); err != nil {
		s.fail(c, labErr(err))
		return
	}
	s.flash(c, "info", "Instance stopped.")
	back := "/labs/" + c.Param("lab")
	if next := c.Request.PostForm.Get("next"); next != "" {
		back = safeNext(next)
	}
	c.Redirect(http.StatusSeeOther, back)
}
