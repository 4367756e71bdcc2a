package grader

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// Request is a submission as the learner sends it.
type Request struct {
	Exercise string          `json:"exercise"`
	Design   json.RawMessage `json:"design"`
	Notes    string          `json:"notes"`
}

// Submit validates a submission and commits it with its grading job. An
// invalid design or note is an apperr with field errors; nothing is stored.
func (g *Grader) Submit(ctx context.Context, userID int64, labID string, req Request) (store.Submission, error) {
	l, ok := g.reg.Lab(labID)
	if !ok {
		return store.Submission{}, apperr.New(apperr.NotFound, "no lab %q", labID)
	}
	ex, d, notes, err := Validate(l, req)
	if err != nil {
		return store.Submission{}, err
	}
	if err := g.checkUnlocked(ctx, userID, ex); err != nil {
		return store.Submission{}, err
	}
	pending, err := g.st.PendingSubmissions(ctx, userID)
	if err != nil {
		return store.Submission{}, err
	}
	if pending >= MaxPending {
		return store.Submission{}, apperr.New(apperr.TooMany,
			"You have %d submissions waiting to be graded; submit again when one has finished.", pending)
	}
	design, err := json.Marshal(d)
	if err != nil {
		return store.Submission{}, err
	}
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: userID, Lab: labID, Exercise: ex.ID,
		Design: string(design), Notes: notes, Status: store.StatusQueued, MaxScore: ex.MaxScore(), CreatedAt: g.now()}
	err = g.st.CreateSubmission(ctx, &sub, g.enqueue(sub.ID))
	if err != nil {
		return store.Submission{}, err
	}
	g.log.Info("submission queued", "submission", sub.ID, "user", userID, "exercise", ex.ID, "number", sub.Number)
	return sub, nil
}

// ParseRequest decodes a submission's JSON body; anything but one object
// of the known fields is an apperr naming "body".
func ParseRequest(body []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, tail := dec.Token(); tail != io.EOF {
			err = errors.New("one JSON object with nothing after it")
		}
	}
	if err != nil {
		return Request{}, apperr.Fields(map[string]string{"body": `The body must be a JSON object {"exercise": "…", "design": {…}, "notes": "…"}: ` + err.Error()})
	}
	return req, nil
}

// Validate checks a submission for lab l: the exercise (default the lab's
// first), the design and the notes. It returns them ready to store, or an
// apperr naming the fields at fault.
func Validate(l labs.Lab, req Request) (labs.Exercise, labs.Design, string, error) {
	labID := l.Info().ID
	exs := labs.ExercisesOf(l)
	if len(exs) == 0 {
		return labs.Exercise{}, nil, "", apperr.New(apperr.NotFound, "lab %q has no exercises", labID)
	}
	// Without a name, the lab's first design exercise.
	ex := exs[0]
	for i := len(exs) - 1; i >= 0; i-- {
		if exs[i].Build == nil {
			ex = exs[i]
		}
	}
	if req.Exercise != "" {
		found := false
		for _, e := range exs {
			if e.ID == req.Exercise {
				ex, found = e, true
			}
		}
		if !found {
			return labs.Exercise{}, nil, "", apperr.Fields(map[string]string{"exercise": fmt.Sprintf(
				"No exercise %q in the %s lab; it has %s.", req.Exercise, labID, exerciseIDs(exs))})
		}
	}
	if ex.Build != nil {
		return labs.Exercise{}, nil, "", apperr.Fields(map[string]string{"archive": fmt.Sprintf(
			"%q is a build exercise: upload your service's .zip or .tar.gz as the field archive of a multipart/form-data request.", ex.ID)})
	}
	d, ferrs := labs.ParseDesign(l, req.Design)
	notes, msg := validNotes(req.Notes)
	if msg != "" {
		ferrs = addField(ferrs, "notes", msg)
	}
	if len(ferrs) > 0 {
		return labs.Exercise{}, nil, "", apperr.Fields(ferrs)
	}
	return ex, d, notes, nil
}

// validNotes trims the notes and says what is wrong with them, or "".
func validNotes(notes string) (string, string) {
	notes = strings.TrimSpace(notes)
	if !utf8.ValidString(notes) {
		return notes, "The notes must be text (UTF-8)."
	}
	if n := utf8.RuneCountInString(notes); n > MaxNotes {
		return notes, fmt.Sprintf("At most %d characters; these notes have %d.", MaxNotes, n)
	}
	return notes, ""
}

// enqueue inserts submission id's grading job in a transaction.
func (g *Grader) enqueue(id string) func(ctx context.Context, tx *sql.Tx) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx) (int64, error) {
		res, err := g.river.InsertTx(ctx, tx, gradeArgs{Submission: id}, &river.InsertOpts{Queue: queue, MaxAttempts: maxAttempts})
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	}
}

// Regrade grades a finished submission again, replacing its result; a
// submission still queued or running is left alone (ok false).
func (g *Grader) Regrade(ctx context.Context, id string) (bool, error) {
	ok, err := g.st.Requeue(ctx, id, g.enqueue(id))
	if ok {
		g.log.Info("submission requeued", "submission", id)
		g.publish(ctx, id, store.StatusQueued)
	}
	return ok, err
}

func addField(f labs.FieldErrors, k, v string) labs.FieldErrors {
	if f == nil {
		f = labs.FieldErrors{}
	}
	f[k] = v
	return f
}

func exerciseIDs(exs []labs.Exercise) string {
	ids := make([]string, len(exs))
	for i, e := range exs {
		ids[i] = e.ID
	}
	return strings.Join(ids, ", ")
}
