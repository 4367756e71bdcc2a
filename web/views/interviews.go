package views

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/lessons"
)

// InterviewsIndex is the list of mock interview problems.
type InterviewsIndex struct {
	Problems []*interviews.Problem
	// Done counts the learner's sessions per problem slug.
	Done map[string]int
}

// InterviewProblemPage shows a problem and, signed in, the learner's
// sessions on it and a Start button.
type InterviewProblemPage struct {
	Problem  *interviews.Problem
	Lessons  []*lessons.Lesson
	SignedIn bool
	Sessions []InterviewSessionRow
}

// InterviewSessionRow is one session in a list.
type InterviewSessionRow struct {
	URL       string
	Problem   string
	StartedAt time.Time
	Finished  bool
	// Scores are the closed stages' scores, in stage order.
	Scores []StageScore
	// Percent is the mean of the closed stages' scores.
	Percent int
}

// StageScore is a stage's rubric score: checkpoints ticked out of those
// the stage has.
type StageScore struct {
	Stage  string
	Title  string
	Ticked int
	Of     int
	Closed bool
}

// Percent is the share ticked, rounded down.
func (s StageScore) Percent() int {
	if s.Of == 0 {
		return 0
	}
	return s.Ticked * 100 / s.Of
}

// InterviewSessionPage is a running or finished mock interview.
type InterviewSessionPage struct {
	Problem *interviews.Problem
	Base    string // the session's URL
	// RemainingMs is the time left (negative: over time).
	RemainingMs int64
	Running     bool
	Finished    bool
	Stages      []InterviewStageView
	// Current is the first stage still open ("" when all are closed).
	Current string
	Scores  []StageScore
	Percent int
	// Reviews are the instructors' reviews of the session.
	Reviews []SessionReviewView
}

// InterviewStageView is one stage of a session as the learner sees it.
type InterviewStageView struct {
	ID          string
	Title       string
	Design      bool
	Prompt      string
	Checkpoints []string
	Lessons     []*lessons.Lesson
	Answer      string
	Closed      bool
	Ticked      []bool
	Score       StageScore
	Error       string
	Diagram     DiagramView
}

// Remaining formats the time left as a clock ("31:05 left").
func (m InterviewSessionPage) Remaining() string {
	ms := m.RemainingMs
	suffix := " left"
	if ms < 0 {
		ms, suffix = -ms, " over time"
	}
	sec := ms / 1000
	if ms%1000 != 0 && suffix == " left" {
		sec++ // a countdown shows a second until it has passed
	}
	return fmt.Sprintf("%d:%02d%s", sec/60, sec%60, suffix)
}

func i64toa(n int64) string { return strconv.FormatInt(n, 10) }

func stageTitle(id string) string {
	st, _ := interviews.StageByID(id)
	return st.Title
}

// InterviewReviewPage is a class's staff's view of a learner's session:
// the answers and diagrams, and the rubric to score it with.
type InterviewReviewPage struct {
	Class   ClassRef
	Learner string // the learner's email
	Session InterviewSessionPage
	Action  string // where the review form posts
	// Ticked are the staff's ticks by stage, as saved (or as sent back).
	Ticked   map[string][]bool
	Reviewed bool
	Score    int
	Feedback string
	Error    string
}

// SessionReviewView is an instructor's review as the learner reads it.
type SessionReviewView struct {
	ClassName string
	Score     int
	Feedback  string
}
