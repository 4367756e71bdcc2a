package progress

import (
	"context"
	"time"

	"github.com/sdworkbook/workbook/internal/srs"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/lessons"
)

// LessonStatus is one lesson on the dashboard.
type LessonStatus struct {
	Lesson    *lessons.Lesson
	Opened    bool
	Completed bool
	BestQuiz  int // percent, -1 when never attempted
	Attempts  int
	Passed    bool
	LastSeen  time.Time
}

// EvidenceStatus is one evidence item of an outcome.
type EvidenceStatus struct {
	lessons.Evidence
	Label string
	Href  string
	Met   bool
}

// OutcomeStatus is one checklist outcome.
type OutcomeStatus struct {
	lessons.Outcome
	Items    []EvidenceStatus
	ByHand   bool
	Evidence bool // every evidence item is met
}

// Done reports whether the outcome is ticked, by evidence or by hand.
func (o OutcomeStatus) Done() bool { return o.ByHand || o.Evidence }

// Dashboard is everything the progress page shows.
type Dashboard struct {
	Lessons            []LessonStatus
	Opened, Completed  int
	QuizzesPassed      int
	QuizAverage        int // mean of best scores, percent, over attempted quizzes
	QuestionsPractised int
	QuestionsTotal     int
	Streak             int
	ReviewsDue         int
	Outcomes           []OutcomeStatus
	OutcomesDone       int
	Continue           *lessons.Lesson
}

// record is what the store remembers of a learner, as the dashboard
// reads it.
type record struct {
	prog     map[string]store.LessonProgress // by lesson slug
	best     map[string]int                  // best quiz percent by lesson
	attempts map[string]int                  // quiz attempts by lesson
	passed   map[string]bool                 // quizzes passed by lesson
	answers  []store.QuestionAnswer
	ticks    map[string]bool // outcomes ticked by hand
	reviews  []time.Time
	due      int
	labs     map[string]bool // labs with a graded submission
}

// Dashboard gathers a learner's progress.
func (s *Service) Dashboard(ctx context.Context, userID int64) (Dashboard, error) {
	cat := s.Catalog()
	now := s.Now()
	r, err := s.record(ctx, userID, now)
	if err != nil {
		return Dashboard{}, err
	}
	d := Dashboard{QuestionsTotal: len(cat.Questions), ReviewsDue: r.due, Streak: srs.Streak(r.reviews, now, time.UTC)}
	d.addLessons(cat, r)
	for _, a := range r.answers {
		if a.Rating != nil || a.Answer != "" {
			d.QuestionsPractised++
		}
	}
	d.addOutcomes(cat, r, s.Labs != nil)
	return d, nil
}

// record reads what the store remembers of the learner.
func (s *Service) record(ctx context.Context, userID int64, now time.Time) (record, error) {
	r := record{prog: map[string]store.LessonProgress{}, best: map[string]int{}, attempts: map[string]int{},
		passed: map[string]bool{}, ticks: map[string]bool{}, labs: map[string]bool{}}
	lp, err := s.Store.LessonProgressOf(ctx, userID)
	if err != nil {
		return r, err
	}
	for _, p := range lp {
		r.prog[p.LessonSlug] = p
	}
	attempts, err := s.Store.QuizAttempts(ctx, userID, "")
	if err != nil {
		return r, err
	}
	r.addQuizzes(attempts)
	if r.answers, err = s.Store.QuestionAnswers(ctx, userID); err != nil {
		return r, err
	}
	ticks, err := s.Store.OutcomeTicks(ctx, userID)
	if err != nil {
		return r, err
	}
	for _, t := range ticks {
		r.ticks[t.OutcomeID] = true
	}
	if r.reviews, err = s.Store.ReviewTimes(ctx, userID, now.AddDate(0, 0, -400)); err != nil {
		return r, err
	}
	queue, err := s.ReviewQueue(ctx, userID)
	if err != nil {
		return r, err
	}
	r.due = queue.Total()
	if s.Labs != nil {
		if r.labs, err = s.Labs(ctx, userID); err != nil {
			return r, err
		}
	}
	return r, nil
}

// addQuizzes records each lesson's best quiz score, attempts and pass.
func (r *record) addQuizzes(attempts []store.QuizAttempt) {
	for _, a := range attempts {
		pct := 0
		if a.MaxScore > 0 {
			pct = a.Score * 100 / a.MaxScore
		}
		if c, ok := r.best[a.LessonSlug]; !ok || pct > c {
			r.best[a.LessonSlug] = pct
		}
		r.attempts[a.LessonSlug]++
		r.passed[a.LessonSlug] = r.passed[a.LessonSlug] || a.Passed
	}
}

// addLessons lists every lesson with the learner's standing, counts
// them, and picks the lesson to continue with.
func (d *Dashboard) addLessons(cat *lessons.Catalog, r record) {
	sum, n := 0, 0
	var lastOpen time.Time
	for _, l := range cat.Lessons {
		p, opened := r.prog[l.Slug]
		ls := LessonStatus{Lesson: l, Opened: opened, Completed: opened && p.CompletedAt != nil, BestQuiz: -1,
			Attempts: r.attempts[l.Slug], Passed: r.passed[l.Slug]}
		if opened {
			ls.LastSeen = p.LastOpenedAt
			d.Opened++
			// Continue with the most recently opened lesson not yet completed.
			if !ls.Completed && p.LastOpenedAt.After(lastOpen) {
				lastOpen, d.Continue = p.LastOpenedAt, l
			}
		}
		if ls.Completed {
			d.Completed++
		}
		if b, ok := r.best[l.Slug]; ok {
			ls.BestQuiz = b
			sum += b
			n++
		}
		if ls.Passed {
			d.QuizzesPassed++
		}
		d.Lessons = append(d.Lessons, ls)
	}
	if n > 0 {
		d.QuizAverage = sum / n
	}
	if d.Continue == nil {
		for _, ls := range d.Lessons { // else the first lesson not completed
			if !ls.Completed {
				d.Continue = ls.Lesson
				break
			}
		}
	}
}

// addOutcomes lists the checklist's outcomes with their evidence; with
// labsServed, a lab's evidence links its lab.
func (d *Dashboard) addOutcomes(cat *lessons.Catalog, r record, labsServed bool) {
	for _, o := range cat.Outcomes {
		os := OutcomeStatus{Outcome: o, ByHand: r.ticks[o.ID], Evidence: len(o.Evidence) > 0}
		for _, e := range o.Evidence {
			es := evidenceStatus(cat, e, r, labsServed)
			os.Evidence = os.Evidence && es.Met
			os.Items = append(os.Items, es)
		}
		if os.Done() {
			d.OutcomesDone++
		}
		d.Outcomes = append(d.Outcomes, os)
	}
}

// evidenceStatus is one evidence item: what to do, where, and whether it
// is done.
func evidenceStatus(cat *lessons.Catalog, e lessons.Evidence, r record, labsServed bool) EvidenceStatus {
	es := EvidenceStatus{Evidence: e}
	switch e.Kind {
	case "lesson":
		l, _ := cat.Lesson(e.Ref)
		es.Label, es.Href = "Complete the lesson “"+title(l, e.Ref)+"”", "/lessons/"+e.Ref
		es.Met = r.prog[e.Ref].CompletedAt != nil
	case "quiz":
		l, _ := cat.Lesson(e.Ref)
		es.Label, es.Href = "Pass the quiz of “"+title(l, e.Ref)+"”", "/lessons/"+e.Ref+"/quiz"
		es.Met = r.passed[e.Ref]
	case "lab":
		es.Label = "Get a design graded in the " + e.Ref + " lab"
		if labsServed { // the labs are served: link them
			es.Href = "/labs/" + e.Ref
		}
		es.Met = r.labs[e.Ref]
	}
	return es
}

func title(l *lessons.Lesson, fallback string) string {
	if l == nil {
		return fallback
	}
	return l.Title
}
