// Package gradebook builds a class's gradebook: its learners against its
// assignments (best score, attempts, late), with progress columns, and
// writes it as CSV for spreadsheets and LMS gradebooks or as JSON. It also
// holds what an instructor does to a class's results as a whole: the
// export of every attempt and the regrading of an assignment.
package gradebook

import (
	"context"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/progress"
)

// Sources are where a gradebook's numbers come from.
type Sources struct {
	Store    *store.Store
	Progress *progress.Service
	// Catalog is the lesson content as it is now.
	Catalog func() *lessons.Catalog
	// Exercise finds a lab exercise by id.
	Exercise func(id string) (labs.Exercise, bool)
	// Ladders are the labs' exercise ladders, whose step reached each
	// row shows.
	Ladders []Ladder
	// Interview names a mock interview problem by slug.
	Interview func(slug string) (title string, ok bool)
}

// Column is one assignment.
type Column struct {
	store.Assignment `json:"-"`
	ID               int64      `json:"id"`
	Kind             string     `json:"kind"`
	Ref              string     `json:"ref"`
	Title            string     `json:"title"`
	Max              int        `json:"max_points"`
	DueAt            *time.Time `json:"due_at"`
	Href             string     `json:"-"` // where a learner does it
}

// Cell is one learner's standing on one assignment.
type Cell struct {
	// Score is the best score that counts (the class's override replaces
	// the grader's for its submission; other classes' overrides are not
	// this class's); nil when nothing counts.
	Score      *int      `json:"score"`
	Max        int       `json:"max_points"`
	Attempts   int       `json:"attempts"`
	Late       bool      `json:"late"` // the best attempt came after the due date
	LateCount  int       `json:"late_attempts"`
	Overridden bool      `json:"overridden"` // the best score is an instructor's
	Best       string    `json:"best_submission,omitempty"`
	BestAt     time.Time `json:"best_at,omitempty"`
	// Link is the staff's page of the best attempt when it is not a
	// submission (a mock interview's review page).
	Link string `json:"-"`
}

// Row is one learner.
type Row struct {
	UserID      int64     `json:"user_id"`
	Email       string    `json:"email"`
	JoinedAt    time.Time `json:"joined_at"`
	Cells       []Cell    `json:"assignments"`
	Lessons     int       `json:"lessons_completed"`
	QuizAverage int       `json:"quiz_average"`
	Streak      int       `json:"review_streak"`
	Total       int       `json:"total"`
	TotalMax    int       `json:"total_max"`
	// StepReached is, per lab, the highest ladder step passed (0: none).
	StepReached map[string]int `json:"ladder_steps"`
}

// Book is a class's gradebook.
type Book struct {
	Class   store.Class `json:"-"`
	Columns []Column    `json:"assignments"`
	Rows    []Row       `json:"learners"`
	Lessons int         `json:"lessons_total"`
	Ladders []Ladder    `json:"ladders"`
}

// Build computes a class's gradebook.
func (src Sources) Build(ctx context.Context, class store.Class) (Book, error) {
	return src.build(ctx, class, 0)
}

// BuildFor computes one learner's row of a class's gradebook, for the
// learner's own view: the other learners are not read.
func (src Sources) BuildFor(ctx context.Context, class store.Class, userID int64) (Book, error) {
	return src.build(ctx, class, userID)
}

// evidence is what the rows are computed from: the learners' counted
// submissions with this class's reviews, quiz attempts and progress.
type evidence struct {
	subs    []store.Submission
	reviews map[string]store.SubmissionReview
	quizzes []store.QuizAttempt
	sums    map[int64]progress.Summary
	// interviews are the members' sessions on assigned problems, with
	// this class's reviews of them.
	interviews       []store.InterviewSession
	interviewReviews map[int64]store.InterviewReview
}

func (src Sources) build(ctx context.Context, class store.Class, only int64) (Book, error) {
	cat := src.Catalog()
	b := Book{Class: class, Lessons: len(cat.Lessons), Columns: []Column{}, Rows: []Row{}, Ladders: append([]Ladder{}, src.Ladders...)} // [] not null in JSON
	as, err := src.Store.Assignments(ctx, class.ID)
	if err != nil {
		return Book{}, err
	}
	for _, a := range as {
		b.Columns = append(b.Columns, src.column(cat, a))
	}
	members, err := src.members(ctx, class.ID, only)
	if err != nil {
		return Book{}, err
	}
	ev, err := src.evidence(ctx, class.ID, members, b.Columns)
	if err != nil {
		return Book{}, err
	}
	for _, m := range members {
		r := row(m, b.Columns, ev)
		r.StepReached = stepsReached(m.ID, src.Ladders, ev.subs)
		b.Rows = append(b.Rows, r)
	}
	return b, nil
}

// column is an assignment as the gradebook shows it: its title, points
// and where a learner does it.
func (src Sources) column(cat *lessons.Catalog, a store.Assignment) Column {
	col := Column{Assignment: a, ID: a.ID, Kind: a.Kind, Ref: a.Ref, DueAt: a.DueAt, Title: a.Ref}
	switch a.Kind {
	case store.AssignExercise:
		if ex, ok := src.Exercise(a.Ref); ok {
			col.Title, col.Max, col.Href = ex.Title, ex.MaxScore(), "/labs/"+ex.Lab+"/exercises/"+ex.ID
		}
	case store.AssignQuiz:
		col.Max, col.Href = 100, "/lessons/"+a.Ref+"/quiz" // percent
		if l, ok := cat.Lesson(a.Ref); ok {
			col.Title = "Quiz: " + l.Title
		}
	case store.AssignInterview:
		src.interviewColumn(&col)
	}
	return col
}

// members are the class's learners, or only the one given.
func (src Sources) members(ctx context.Context, classID, only int64) ([]store.Member, error) {
	members, err := src.Store.Members(ctx, classID)
	if err != nil || only == 0 {
		return members, err
	}
	var mine []store.Member
	for _, m := range members {
		if m.ID == only {
			mine = append(mine, m)
		}
	}
	return mine, nil
}

// evidence reads what the members did towards the columns.
func (src Sources) evidence(ctx context.Context, classID int64, members []store.Member, cols []Column) (evidence, error) {
	exIDs, slugs := ladderExercises(src.Ladders), []string(nil)
	for _, col := range cols {
		switch col.Kind {
		case store.AssignExercise:
			exIDs = append(exIDs, col.Ref)
		case store.AssignQuiz:
			slugs = append(slugs, col.Ref)
		}
	}
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	var ev evidence
	var err error
	if ev.subs, err = src.Store.SubmissionsOf(ctx, ids, exIDs); err != nil {
		return ev, err
	}
	subIDs := make([]string, len(ev.subs))
	for i, s := range ev.subs {
		subIDs[i] = s.ID
	}
	if ev.reviews, err = src.Store.Reviews(ctx, classID, subIDs); err != nil {
		return ev, err
	}
	if ev.quizzes, err = src.Store.QuizAttemptsOf(ctx, ids, slugs); err != nil {
		return ev, err
	}
	if err = src.interviewEvidence(ctx, classID, ids, cols, &ev); err != nil {
		return ev, err
	}
	if src.Progress != nil {
		if ev.sums, err = src.Progress.Summaries(ctx, ids); err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// row is one learner's standing on every column, with their totals and
// progress.
func row(m store.Member, cols []Column, ev evidence) Row {
	r := Row{UserID: m.ID, Email: m.Email, JoinedAt: m.JoinedAt, Cells: []Cell{}}
	for _, col := range cols {
		var cell Cell
		switch col.Kind {
		case store.AssignExercise:
			cell = exerciseCell(m.ID, col, ev)
		case store.AssignQuiz:
			cell = quizCell(m.ID, col, ev.quizzes)
		case store.AssignInterview:
			cell = interviewCell(m.ID, col, ev)
		default:
			cell = Cell{Max: col.Max}
		}
		if cell.Score != nil {
			r.Total += *cell.Score
		}
		r.TotalMax += cell.Max
		r.Cells = append(r.Cells, cell)
	}
	sum := ev.sums[m.ID]
	r.Lessons, r.QuizAverage, r.Streak = sum.Completed, sum.QuizAverage, sum.Streak
	return r
}

// exerciseCell is the best counted submission of a learner to an
// exercise, this class's override replacing the grader's score.
func exerciseCell(userID int64, col Column, ev evidence) Cell {
	cell := Cell{Max: col.Max}
	for _, s := range ev.subs {
		if s.UserID != userID || s.Exercise != col.Ref || !s.Counts() {
			continue
		}
		cell.Attempts++
		late := col.Late(s.CreatedAt)
		if late {
			cell.LateCount++
		}
		score, over := Effective(s, ev.reviews[s.ID])
		if score == nil {
			continue
		}
		if cell.Score == nil || *score > *cell.Score {
			v := *score
			cell.Score, cell.Late, cell.Overridden, cell.Best, cell.BestAt = &v, late, over, s.ID, s.CreatedAt
		}
	}
	return cell
}

// quizCell is a learner's best attempt at a quiz, in percent.
func quizCell(userID int64, col Column, quizzes []store.QuizAttempt) Cell {
	cell := Cell{Max: col.Max}
	for _, q := range quizzes {
		if q.UserID != userID || q.LessonSlug != col.Ref || q.MaxScore == 0 {
			continue
		}
		cell.Attempts++
		late := col.Late(q.CreatedAt)
		if late {
			cell.LateCount++
		}
		pct := q.Score * 100 / q.MaxScore
		if cell.Score == nil || pct > *cell.Score {
			cell.Score, cell.Late, cell.BestAt = &pct, late, q.CreatedAt
		}
	}
	return cell
}

// Effective is the score a submission counts for: an instructor's override
// when there is one, else the grader's.
func Effective(s store.Submission, r store.SubmissionReview) (score *int, overridden bool) {
	if r.OverrideScore != nil {
		return r.OverrideScore, true
	}
	return s.Score, false
}
